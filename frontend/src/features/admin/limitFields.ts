/**
 * The limit fields a user's or a group's form edits, and the conversions between the form
 * (text, empty: "the default") and the API (`null`: the default, `0`: no limit).
 */
import type { MessageKey } from '../../i18n';
import type { UserLimits } from '../auth/api';

export const LIMIT_FIELDS: { key: keyof UserLimits; label: MessageKey }[] = [
  { key: 'requests_per_minute', label: 'limits.requestsPerMinute' },
  { key: 'tokens_per_minute', label: 'limits.tokensPerMinute' },
  { key: 'concurrent_streams', label: 'limits.concurrentStreams' },
  { key: 'requests_per_day', label: 'limits.requestsPerDay' },
  { key: 'requests_per_month', label: 'limits.requestsPerMonth' },
  { key: 'tokens_per_day', label: 'limits.tokensPerDay' },
  { key: 'tokens_per_month', label: 'limits.tokensPerMonth' },
];

export type LimitsForm = Record<keyof UserLimits, string>;

export function formFromLimits(limits: Partial<UserLimits> | null | undefined): LimitsForm {
  return Object.fromEntries(LIMIT_FIELDS.map(({ key }) => [key, limits?.[key]?.toString() ?? ''])) as LimitsForm;
}

/** Blank: the default (null); otherwise a whole number, at least 0. */
export function limitsFromForm(form: Partial<LimitsForm>): UserLimits {
  return Object.fromEntries(
    LIMIT_FIELDS.map(({ key }) => {
      const text = (form[key] ?? '').trim();
      const value = Number(text);
      return [key, text === '' || !Number.isFinite(value) ? null : Math.max(0, Math.round(value))];
    }),
  ) as unknown as UserLimits;
}

/** The limits that are set, in the form's order (for a short summary). */
export function setLimits(limits: Partial<UserLimits> | null | undefined): { key: keyof UserLimits; label: MessageKey; value: number }[] {
  return LIMIT_FIELDS.flatMap(({ key, label }) => {
    const value = limits?.[key];
    return value === null || value === undefined ? [] : [{ key, label, value }];
  });
}
