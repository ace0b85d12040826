/**
 * The gateway's response and request types, generated from its OpenAPI document into
 * `generated/openapi.ts` (`make api-types`; `make test` fails when that file is stale).
 * Features name the ones they use: `type EngineStatus = Schema<'EnginePublic'>`.
 */
import type { components } from './generated/openapi';

export type Schema<Name extends keyof components['schemas']> = components['schemas'][Name];
