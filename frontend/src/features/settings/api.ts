import { del, get, post } from '../../api/client';

export interface ApiKey {
  id: number;
  name: string;
  prefix: string;
  created: string;
  last_used: string | null;
  expires: string | null;
  allowed_models: string[] | null;
}

export interface ApiKeyCreated extends ApiKey {
  key: string;
}

export const listKeys = () => get<{ data: ApiKey[] }>('/api/keys').then((body) => body.data);
export const createKey = (body: { name: string; expires_at?: string; allowed_models?: string[] }) =>
  post<ApiKeyCreated>('/api/keys', body);
export const revokeKey = (id: number) => del<unknown>(`/api/keys/${id}`);
