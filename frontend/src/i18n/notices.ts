/**
 * The gateway's own sentences in the user's language: a GPU's absence, an engine's load
 * phase, why a profile cannot run, why an engine failed, an engine's refusal. The gateway
 * sends each as a code (+ params) next to its English message (gateway/src/gpuchat/core/
 * notices.py); a code this build does not know (a newer gateway) shows that message.
 */
import type { components } from '../api/generated/openapi';
import type en from './en';
import type { Translate, Vars } from '.';

export type NoticeCode = NonNullable<components['schemas']['GpuReportPublic']['reason_code']>;
type NoticeKey = `notice.${NoticeCode}`;

/** Every code the gateway may send has an English line (and so a Korean one): a type error
 * here until a new code is translated. */
export type NoticeMessages = Pick<typeof en, NoticeKey>;

/** Every code, for the catalog test; a new code is a type error here too. */
export const NOTICE_CODES = Object.keys({
  phase_starting: 1, phase_waiting: 1, phase_process_up: 1, phase_loading_weights: 1,
  phase_weights_loaded: 1, phase_warming_up: 1, phase_warmed_up: 1, phase_kv_cache: 1,
  phase_cuda_graphs: 1, phase_engine_initialised: 1, phase_starting_server: 1,
  phase_loading_model: 1, phase_loading_tensors: 1, phase_initializing: 1,
  phase_model_loaded: 1, phase_ready: 1, gpu_nvml_missing: 1, gpu_no_driver: 1,
  gpu_query_failed: 1, vllm_missing: 1, model_unknown: 1, model_not_installed: 1,
  model_not_exported: 1, model_file_missing: 1, command_not_found: 1,
  command_not_executable: 1, engine_cannot_start: 1, engine_start_timeout: 1,
  engine_unhealthy: 1, engine_exited_starting: 1, engine_exited: 1, server_shutting_down: 1,
  model_held: 1, model_stopping: 1, model_restarting: 1, model_not_ready: 1,
  model_gpus_busy: 1, model_unavailable_here: 1, no_healthy_replica: 1,
  supervisor_unreachable: 1, supervisor_refused: 1, switch_in_progress: 1, external_engine: 1,
} satisfies Record<NoticeCode, 1>) as NoticeCode[];

const KNOWN = new Set<string>(NOTICE_CODES);

/** `code` (+ `params`) in the user's language; `message` for a missing or unknown code. */
export function noticeText(
  t: Translate,
  code: string | null | undefined,
  params: Record<string, unknown> | null | undefined,
  message: string,
): string {
  if (!code || !KNOWN.has(code)) return message;
  const vars: Vars = {};
  for (const [name, value] of Object.entries(params ?? {})) {
    vars[name] = typeof value === 'number' ? value : String(value);
  }
  return t(`notice.${code as NoticeCode}`, vars);
}
