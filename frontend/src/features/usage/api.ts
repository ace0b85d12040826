/**
 * Usage reports: `GET /api/admin/usage` (every user) and `GET /api/me/usage` (one's own),
 * same filters and shape.
 */
import { get, query } from '../../api/client';
import type { Schema } from '../../api/schemas';

export type GroupBy = 'day' | 'hour' | 'user' | 'model';

export interface UsageFilters {
  from?: string;
  to?: string;
  user?: string;
  model?: string;
  status?: string;
  group_by: GroupBy;
}

export type UsageReport = Schema<'UsageReport'>;

export const fetchUsage = (scope: 'admin' | 'me', filters: UsageFilters) =>
  get<UsageReport>(`${scope === 'admin' ? '/api/admin/usage' : '/api/me/usage'}${query({ ...filters })}`);

export function csvUrl(filters: Omit<UsageFilters, 'group_by'>): string {
  return `/api/admin/usage.csv${query({ ...filters })}`;
}
