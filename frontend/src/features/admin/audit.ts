/**
 * The audit log: `GET /api/admin/audit` (newest first, paged) and its CSV download, and
 * how an entry's before/after reads as a few lines of `field: old → new`.
 */
import { get, query } from '../../api/client';
import type { Schema } from '../../api/schemas';

export type AuditEntry = Schema<'AuditEntryPublic'>;
export type AuditLog = Schema<'AuditLogPublic'>;

export interface AuditFilters {
  actor?: string;
  action?: string;
  target?: string;
  since?: string;
  until?: string;
}

/** The action groups the filter offers (the API matches a code or its dotted start). */
export const ACTION_GROUPS = ['user', 'group', 'key', 'engine', 'filter', 'stream', 'profile', 'setting'] as const;

export const listAudit = (filters: AuditFilters, limit: number, offset: number) =>
  get<AuditLog>(`/api/admin/audit${query({ ...filters, limit, offset })}`);

export const auditCsvUrl = (filters: AuditFilters) => `/api/admin/audit.csv${query({ ...filters })}`;

export interface ChangeLine {
  field: string;
  before: string;
  after: string;
}

const EMPTY = '—';

export function formatValue(value: unknown): string {
  if (value === undefined || value === null) return EMPTY;
  if (Array.isArray(value)) return value.length ? value.map((item) => formatValue(item)).join(', ') : EMPTY;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** One line per field that either side names, in the order they first appear. */
export function changeLines(before: Record<string, unknown> | null | undefined, after: Record<string, unknown> | null | undefined): ChangeLine[] {
  const old = before ?? {};
  const now = after ?? {};
  const fields = [...new Set([...Object.keys(old), ...Object.keys(now)])];
  return fields.map((field) => ({ field, before: formatValue(old[field]), after: formatValue(now[field]) }));
}
