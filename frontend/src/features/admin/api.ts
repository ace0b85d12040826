import { del, get, patch, post, query } from '../../api/client';
import type { Schema } from '../../api/schemas';
import type { Me, Role, UserLimits } from '../auth/api';
import type { ApiKey } from '../settings/api';

export type UserPublic = Me;

export const listUsers = (q: string, limit: number, offset: number) =>
  get<{ data: UserPublic[]; total: number }>(`/api/admin/users${query({ q, limit, offset })}`);
export const createUser = (body: { email: string; password?: string; role: Role; limits?: UserLimits }) =>
  post<{ user: UserPublic; password: string | null }>('/api/admin/users', body);
export const updateUser = (id: number, body: { role?: Role; disabled?: boolean; limits?: UserLimits | null }) =>
  patch<UserPublic>(`/api/admin/users/${id}`, body);
export const resetPassword = (id: number, password?: string) =>
  post<{ password: string | null }>(`/api/admin/users/${id}/password`, password ? { password } : {});

export const listUserKeys = (id: number) =>
  get<{ data: ApiKey[] }>(`/api/admin/users/${id}/keys`).then((body) => body.data);
export const revokeUserKey = (id: number, keyId: number) => del<unknown>(`/api/admin/users/${id}/keys/${keyId}`);

export type EngineStatus = Schema<'EnginePublic'>;
export type EngineState = EngineStatus['state'];
export type EngineLoad = Schema<'EngineLoadPublic'>;
export type GpuStatus = Schema<'GpuPublic'>;
export type GpuReport = Schema<'GpuReportPublic'>;
export type LiveStream = Schema<'LiveStreamPublic'>;
export type LiveSnapshot = Schema<'LiveSnapshot'>;
export type Benchmark = Schema<'BenchmarkPublic'>;
export type ProfilePolicy = Schema<'ProfilePolicyPublic'>;

export const listProfiles = () => get<Schema<'ProfilesPublic'>>('/api/admin/profiles');
export const activateProfile = (name: string) =>
  post<Schema<'EngineSwitched'>>(`/api/admin/profiles/${encodeURIComponent(name)}/activate`);
export const stopProfile = (name: string) => post<EngineStatus>(`/api/admin/profiles/${encodeURIComponent(name)}/stop`);
export const stopStream = (requestId: string) =>
  post<Schema<'StreamStopped'>>(`/api/admin/streams/${encodeURIComponent(requestId)}/stop`);
export const listBenchmarks = (limit = 50) => get<Schema<'BenchmarksPublic'>>(`/api/admin/benchmarks${query({ limit })}`);
