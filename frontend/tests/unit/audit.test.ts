import { describe, expect, it } from 'vitest';
import { auditCsvUrl, changeLines, formatValue } from '../../src/features/admin/audit';

describe('audit log changes', () => {
  it('reads as one line per field: old -> new', () => {
    expect(changeLines({ role: 'user' }, { role: 'admin' })).toEqual([{ field: 'role', before: 'user', after: 'admin' }]);
  });

  it('shows a field only one side names as gone or new', () => {
    expect(changeLines(null, { requests_per_minute: 5 })).toEqual([{ field: 'requests_per_minute', before: '—', after: '5' }]);
    expect(changeLines({ tokens_per_day: 10 }, undefined)).toEqual([{ field: 'tokens_per_day', before: '10', after: '—' }]);
    expect(changeLines(null, null)).toEqual([]);
  });

  it('writes lists, booleans and objects readably', () => {
    expect(formatValue(['a', 'b'])).toBe('a, b');
    expect(formatValue([])).toBe('—');
    expect(formatValue(false)).toBe('false');
    expect(formatValue({ a: 1 })).toBe('{"a":1}');
  });

  it('keeps hostile filter text inside the query string', () => {
    expect(auditCsvUrl({ actor: 'a&b=c', target: '' })).toBe('/api/admin/audit.csv?actor=a%26b%3Dc');
  });
});
