import { describe, expect, it } from 'vitest';
import { checkedProfiles, modelsToSave } from '../../src/features/admin/groupModels';
import { formFromLimits, limitsFromForm, setLimits } from '../../src/features/admin/limitFields';

const PROFILES = [
  { name: 'fast', aliases: ['default', 'small'] },
  { name: 'big', aliases: ['large'] },
  { name: 'coder', aliases: [] },
];

describe('group models as checkboxes', () => {
  it('checks a profile named by its alias', () => {
    expect([...checkedProfiles(['small', 'coder'], PROFILES)].sort()).toEqual(['coder', 'fast']);
  });

  it('keeps the names used and what no profile knows, adds new ones by name', () => {
    const saved = modelsToSave(['small', 'gone-model', 'large'], new Set(['fast', 'coder']), PROFILES);
    expect(saved).toEqual(['small', 'gone-model', 'coder']);
  });

  it('nothing checked and nothing unknown is every model', () => {
    expect(modelsToSave(['large'], new Set(), PROFILES)).toEqual([]);
  });
});

describe('limit fields', () => {
  it('blank is the default, numbers are whole and not negative', () => {
    const limits = limitsFromForm({ requests_per_day: ' 12 ', tokens_per_day: '-3', tokens_per_month: '2.6', requests_per_minute: 'abc' });
    expect(limits.requests_per_day).toBe(12);
    expect(limits.tokens_per_day).toBe(0);
    expect(limits.tokens_per_month).toBe(3);
    expect(limits.requests_per_minute).toBeNull();
    expect(limits.concurrent_streams).toBeNull();
  });

  it('round-trips and lists only what is set', () => {
    const form = formFromLimits({ requests_per_month: 0, tokens_per_day: 500 });
    expect(form.requests_per_month).toBe('0');
    expect(form.requests_per_minute).toBe('');
    expect(setLimits(limitsFromForm(form)).map((l) => [l.key, l.value])).toEqual([
      ['requests_per_month', 0],
      ['tokens_per_day', 500],
    ]);
  });
});
