/**
 * The one error vocabulary of the UI. Every failure (an HTTP error envelope, an `error`
 * event inside a stream, a dropped connection) becomes an `ApiError`, decoded here and
 * nowhere else, and is shown to the user through `errorText`.
 */
import en from '../i18n/en';
import type { MessageKey, Vars } from '../i18n';
import { noticeText } from '../i18n/notices';

export interface ErrorNotice {
  code: string;
  params: Record<string, unknown>;
}

export interface ErrorBody {
  message: string;
  type: string;
  code: string | null;
  param: string | null;
  /** `message` as a code the UI translates (the engines' refusals). */
  notice?: ErrorNotice | null;
}

export interface ErrorEnvelope {
  error: ErrorBody;
  source: 'gateway' | 'upstream';
}

/** Types the UI adds for failures that never reached the gateway's envelope. */
export type ClientErrorType = 'network_error' | 'stream_error';

export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string | null;
  readonly param: string | null;
  readonly notice: ErrorNotice | null;
  readonly source: 'gateway' | 'upstream' | 'client';
  readonly retryAfter: number | null;

  constructor(
    body: ErrorBody,
    options: { status?: number; source?: ApiError['source']; retryAfter?: number | null } = {},
  ) {
    super(body.message);
    this.name = 'ApiError';
    this.status = options.status ?? 0;
    this.type = body.type;
    this.code = body.code;
    this.param = body.param;
    this.notice = body.notice ?? null;
    this.source = options.source ?? 'gateway';
    this.retryAfter = options.retryAfter ?? null;
  }

  /** Worth trying again as it is (the server was busy, loading or unreachable). */
  get retryable(): boolean {
    return (
      this.status === 0 || this.status === 429 || this.status >= 500 || this.type === 'server_error'
    );
  }
}

export function isErrorEnvelope(value: unknown): value is ErrorEnvelope {
  if (typeof value !== 'object' || value === null || !('error' in value)) return false;
  const error = (value as { error: unknown }).error;
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { message?: unknown }).message === 'string' &&
    typeof (error as { type?: unknown }).type === 'string'
  );
}

export function fromEnvelope(envelope: ErrorEnvelope, status = 0, retryAfter: number | null = null) {
  const { message, type, code = null, param = null, notice = null } = envelope.error;
  return new ApiError(
    { message, type, code: code ?? null, param: param ?? null, notice },
    { status, source: envelope.source === 'upstream' ? 'upstream' : 'gateway', retryAfter },
  );
}

export function clientError(type: ClientErrorType, message: string): ApiError {
  return new ApiError({ message, type, code: null, param: null }, { source: 'client' });
}

/** An HTTP response that is not 2xx, as an ApiError (the envelope when there is one). */
export async function fromResponse(response: Response): Promise<ApiError> {
  const header = response.headers.get('Retry-After');
  const retryAfter = header !== null && /^\d+$/.test(header) ? Number(header) : null;
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's HTML error page): fall through to a generic error.
  }
  if (isErrorEnvelope(body)) return fromEnvelope(body, response.status, retryAfter);
  const type = response.status >= 500 ? 'server_error' : 'invalid_request_error';
  return new ApiError(
    { message: `HTTP ${response.status}`, type, code: null, param: null },
    { status: response.status, retryAfter },
  );
}

export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return clientError('network_error', message);
}

export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

type Translate = (key: MessageKey, vars?: Vars) => string;
export type ErrorKey =
  | 'error.network'
  | 'error.stream'
  | 'error.auth'
  | 'error.permission'
  | 'error.notFound'
  | 'error.conflict'
  | 'error.tooLarge'
  | 'error.rateLimit'
  | 'error.rateLimitRetry'
  | 'error.server'
  | 'error.serverRetry'
  | 'error.invalid';

const TYPE_KEYS: Record<string, ErrorKey> = {
  network_error: 'error.network',
  stream_error: 'error.stream',
  authentication_error: 'error.auth',
  permission_error: 'error.permission',
  not_found_error: 'error.notFound',
  conflict_error: 'error.conflict',
  request_too_large: 'error.tooLarge',
  rate_limit_error: 'error.rateLimit',
  server_error: 'error.server',
  invalid_request_error: 'error.invalid',
};

/**
 * What the user reads: a translated sentence for the kind of error, followed by the
 * server's reason: its notice or its code translated (i18n/notices.*.ts), else its own
 * message (which names the field).
 */
export function errorText(error: unknown, t: Translate): string {
  const apiError = toApiError(error);
  let key = TYPE_KEYS[apiError.type] ?? 'error.server';
  if (apiError.retryAfter !== null && key === 'error.rateLimit') key = 'error.rateLimitRetry';
  if (apiError.retryAfter !== null && key === 'error.server') key = 'error.serverRetry';
  const summary = t(key, { seconds: apiError.retryAfter ?? 0 });
  const detail = apiError.source === 'client' ? '' : reason(apiError, t);
  return detail && detail !== summary ? `${summary} (${detail})` : summary;
}

function reason(error: ApiError, t: Translate): string {
  const message = error.message.trim();
  if (error.notice) return noticeText(t, error.notice.code, error.notice.params, message);
  const codeKey = `errorCode.${error.code ?? ''}`;
  // An upstream's own code (an engine's) is not ours to translate.
  if (error.source === 'gateway' && codeKey in en) return t(codeKey as MessageKey);
  return message;
}
