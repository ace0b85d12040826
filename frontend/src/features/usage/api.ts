/**
 * Usage reports: `GET /api/admin/usage` (every user) and `GET /api/me/usage` (one's own),
 * same filters and shape; the time series behind the charts (`…/usage/series`, per UTC hour
 * or day and model), the CSV downloads, and one's own quota (`GET /api/me/quota`).
 */
import { get, query } from '../../api/client';
import type { Schema } from '../../api/schemas';

export type GroupBy = 'day' | 'hour' | 'user' | 'group' | 'model';
export type Scope = 'admin' | 'me';
export type Bucket = UsageSeries['bucket'];

export interface UsageFilters {
  from?: string;
  to?: string;
  user?: string;
  /** A group's name or id: its members' rows (admins only). */
  group?: string;
  model?: string;
  status?: string;
  group_by: GroupBy;
}

export type UsageReport = Schema<'UsageReport'>;
export type UsageSeries = Schema<'UsageSeries'>;
export type ModelSeries = Schema<'ModelSeries'>;
export type MyQuota = Schema<'MyQuota'>;
export type PeriodUsage = Schema<'PeriodUsage'>;

const base = (scope: Scope) => (scope === 'admin' ? '/api/admin/usage' : '/api/me/usage');

export const fetchUsage = (scope: Scope, filters: UsageFilters) => get<UsageReport>(`${base(scope)}${query({ ...filters })}`);

export function fetchSeries(scope: Scope, filters: UsageFilters, bucket: Bucket) {
  const { group_by: _group, ...rest } = filters;
  return get<UsageSeries>(`${base(scope)}/series${query({ ...rest, bucket })}`);
}

export const fetchQuota = () => get<MyQuota>('/api/me/quota');

export function csvUrl(filters: Omit<UsageFilters, 'group_by'>, scope: Scope = 'admin'): string {
  return `${base(scope)}.csv${query({ ...filters })}`;
}
