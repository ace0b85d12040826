import { get, patch, post, query } from '../../api/client';
import type { Me, Role, UserLimits } from '../auth/api';

export type UserPublic = Me;

export const listUsers = (q: string, limit: number, offset: number) =>
  get<{ data: UserPublic[]; total: number }>(`/api/admin/users${query({ q, limit, offset })}`);
export const createUser = (body: { email: string; password?: string; role: Role; limits?: UserLimits }) =>
  post<{ user: UserPublic; password: string | null }>('/api/admin/users', body);
export const updateUser = (id: number, body: { role?: Role; disabled?: boolean; limits?: UserLimits | null }) =>
  patch<UserPublic>(`/api/admin/users/${id}`, body);
export const resetPassword = (id: number, password?: string) =>
  post<{ password: string | null }>(`/api/admin/users/${id}/password`, password ? { password } : {});

export type EngineState = 'stopped' | 'starting' | 'ready' | 'draining' | 'stopping' | 'failed';

export interface EngineStatus {
  name: string;
  engine: string;
  state: EngineState;
  aliases: string[];
  active: boolean;
  gpus: number[];
  pid: number | null;
  port: number | null;
  uptime_s: number | null;
  healthy: boolean | null;
  /** 0..100 while starting. */
  progress: number | null;
  phase: string | null;
  inflight: number;
  waiting: number;
  held: boolean;
  last_error: string | null;
  available: boolean;
  reason: string | null;
  replicas?: { url: string; healthy: boolean; outstanding: number }[];
  /** The engine's own view, from its /metrics (vLLM); null when it does not say. */
  load?: EngineLoad | null;
  /** Seconds the last switch to this profile took (drain, stop, start). */
  switch_s?: number | null;
}

export interface EngineLoad {
  running: number;
  waiting: number;
  /** 0..1 */
  kv_cache_usage: number | null;
}

export interface GpuStatus {
  index: number;
  name: string;
  memory_used_mib: number;
  memory_total_mib: number;
  utilization_pct: number | null;
  temperature_c: number | null;
  engine: string | null;
}

export interface GpuReport {
  available: boolean;
  reason: string | null;
  driver?: string | null;
  gpus: GpuStatus[];
}

export interface LiveStream {
  request_id: string;
  user_id: number | null;
  user: string | null;
  client: string;
  model: string;
  profile: string;
  started_at: number;
  elapsed_s: number;
  ttft_ms: number | null;
  tokens: number;
  tokens_per_s: number | null;
  /** The gateway process relaying it (host:pid). */
  process: string;
}

export interface LiveSnapshot {
  time: number;
  active: string;
  engines: EngineStatus[];
  queue: Record<string, number>;
  gpus: GpuReport;
  streams: LiveStream[];
  /** How many gateway processes answered, and whether every one did in time. */
  processes: { answered: number; complete: boolean };
}

export interface Benchmark {
  id: number;
  profile: string;
  parameters: Record<string, unknown>;
  results: Record<string, unknown>;
  created: string;
}

export const listProfiles = () => get<{ active: string; data: EngineStatus[] }>('/api/admin/profiles');
export const activateProfile = (name: string) =>
  post<EngineStatus>(`/api/admin/profiles/${encodeURIComponent(name)}/activate`);
export const stopProfile = (name: string) => post<EngineStatus>(`/api/admin/profiles/${encodeURIComponent(name)}/stop`);
export const stopStream = (requestId: string) =>
  post<unknown>(`/api/admin/streams/${encodeURIComponent(requestId)}/stop`);
export const listBenchmarks = (limit = 50) => get<{ data: Benchmark[] }>(`/api/admin/benchmarks${query({ limit })}`);
