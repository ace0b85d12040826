/**
 * Usage reports: `GET /api/admin/usage` (every user) and `GET /api/me/usage` (one's own),
 * same filters and shape. The reader is lenient about how a group names its key and its
 * percentiles (`ttft_ms: {p50, p95}` or `ttft_ms_p50`), so small differences in the
 * gateway's report do not blank the page.
 */
import { get, query } from '../../api/client';

export type GroupBy = 'day' | 'hour' | 'user' | 'model';

export interface UsageFilters {
  from?: string;
  to?: string;
  user?: string;
  model?: string;
  status?: string;
  group_by: GroupBy;
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
}

export interface UsageRow {
  key: string;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  errors: number;
  ttft_ms: Percentiles;
  latency_ms: Percentiles;
}

export interface UsageReport {
  totals: UsageRow;
  groups: UsageRow[];
}

type Raw = Record<string, unknown>;

export async function fetchUsage(scope: 'admin' | 'me', filters: UsageFilters): Promise<UsageReport> {
  const path = scope === 'admin' ? '/api/admin/usage' : '/api/me/usage';
  const body = await get<Raw>(`${path}${query({ ...filters })}`);
  const groups = (body.groups ?? body.data ?? body.rows ?? []) as Raw[];
  return { totals: row((body.totals ?? {}) as Raw, 'total'), groups: groups.map((g) => row(g, '')) };
}

export function csvUrl(filters: Omit<UsageFilters, 'group_by'>): string {
  return `/api/admin/usage.csv${query({ ...filters })}`;
}

const KEY_FIELDS = ['key', 'group', 'bucket', 'day', 'hour', 'user', 'email', 'model'];

function row(raw: Raw, fallbackKey: string): UsageRow {
  const found = KEY_FIELDS.map((name) => raw[name]).find((value) => value !== undefined && value !== null);
  return {
    key: found === undefined ? fallbackKey : String(found),
    requests: num(raw.requests),
    input_tokens: num(raw.input_tokens),
    output_tokens: num(raw.output_tokens),
    errors: num(raw.errors),
    ttft_ms: percentiles(raw, 'ttft_ms'),
    latency_ms: percentiles(raw, 'latency_ms'),
  };
}

function percentiles(raw: Raw, name: string): Percentiles {
  const nested = raw[name];
  if (typeof nested === 'object' && nested !== null) {
    const p = nested as Raw;
    return { p50: numOrNull(p.p50), p95: numOrNull(p.p95) };
  }
  const base = name.replace(/_ms$/, '');
  return {
    p50: numOrNull(raw[`${name}_p50`] ?? raw[`${base}_p50_ms`]),
    p95: numOrNull(raw[`${name}_p95`] ?? raw[`${base}_p95_ms`]),
  };
}

const num = (value: unknown) => (typeof value === 'number' ? value : Number(value ?? 0) || 0);
const numOrNull = (value: unknown) => (typeof value === 'number' ? value : null);
