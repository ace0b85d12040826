import { errorText, fromResponse } from '../../src/api/errors';
import en from '../../src/i18n/en';
import ko from '../../src/i18n/ko';
import { detectLanguage, pluralize, translate } from '../../src/i18n';
import { match } from '../../src/router';
import { envelope, jsonResponse } from './helpers';

describe('i18n', () => {
  it('has every English key in Korean, none empty, with the same placeholders', () => {
    const placeholders = (s: string) => [...s.matchAll(/\{(\w+)(?:\}|, plural,)/g)].map((m) => m[1]).sort();
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(ko[key], key).toBeTruthy();
      expect(placeholders(ko[key]), key).toEqual(placeholders(en[key]));
    }
  });

  it('has each key in exactly one feature file, and every feature file in the catalog', () => {
    for (const [language, catalog] of [['en', en], ['ko', ko]] as const) {
      const parts = import.meta.glob<Record<string, string>>('../../src/i18n/*.{en,ko}.ts', { eager: true, import: 'default' });
      const keys = Object.entries(parts)
        .filter(([path]) => path.endsWith(`.${language}.ts`))
        .flatMap(([, part]) => Object.keys(part));
      expect(keys.length, language).toBeGreaterThan(400);
      expect(new Set(keys).size, `${language}: a key in two files`).toBe(keys.length);
      expect(keys.filter((key) => !(key in catalog)), `${language}: a file not in the catalog`).toEqual([]);
      expect(keys.length, language).toBe(Object.keys(catalog).length);
    }
  });

  it('fills placeholders', () => {
    expect(translate('ko', 'chat.queuedWait', { position: 3, seconds: 12 })).toBe('대기 중: 3번째, 약 12초');
    expect(translate('en', 'chat.queued', { position: 1 })).toBe('Waiting in line: position 1');
  });

  it('says counts in the plural the language wants', () => {
    expect(translate('en', 'users.total', { count: 1 })).toBe('1 user');
    expect(translate('en', 'users.total', { count: 2 })).toBe('2 users');
    expect(translate('en', 'users.total', { count: 0 })).toBe('0 users');
    expect(translate('en', 'audit.total', { count: 1 })).toBe('1 entry');
    expect(translate('en', 'live.processes', { count: 1 })).toBe('from 1 gateway process');
    expect(translate('en', 'chat.trimmed', { count: 1 })).toBe(
      '1 older message did not fit the model’s context and was left out.',
    );
    expect(translate('ko', 'users.total', { count: 1 })).toBe('사용자 1명');
    expect(translate('ko', 'users.total', { count: 2 })).toBe('사용자 2명');
  });

  it('picks an exact form first, then the category, then other; other placeholders still fill', () => {
    const template = '{n, plural, =0 {no files} one {# file} other {# files}} in {dir}';
    expect(pluralize('en', template, { n: 0, dir: 'a' })).toBe('no files in {dir}');
    expect(pluralize('en', template, { n: 1 })).toBe('1 file in {dir}');
    expect(pluralize('en', template, { n: 21 })).toBe('21 files in {dir}');
    expect(pluralize('ko', '{n, plural, one {# file} other {# files}}', { n: 1 })).toBe('1 files');
    expect(pluralize('en', template, {})).toBe(template);
  });

  it('leaves no English count without its plural form', () => {
    // A bare `{count}` before a noun reads "1 users"; such a line needs the plural form.
    const bare = Object.entries(en).filter(([, text]) => /\{count\} (?:[a-z]+ )?[a-z]+s\b/.test(text));
    expect(bare).toEqual([]);
  });

  it('defaults to the browser language, then English', () => {
    localStorage.clear();
    const languages = vi.spyOn(navigator, 'languages', 'get');
    languages.mockReturnValue(['ko-KR', 'en-US']);
    expect(detectLanguage()).toBe('ko');
    languages.mockReturnValue(['de-DE']);
    expect(detectLanguage()).toBe('en');
    localStorage.setItem('gpuchat.language', 'ko');
    expect(detectLanguage()).toBe('ko');
    languages.mockRestore();
    localStorage.clear();
  });
});

describe('errors', () => {
  it('decodes the envelope and says it in the user’s language', async () => {
    const error = await fromResponse(jsonResponse(envelope('too many', 'rate_limit_error'), 429, { 'Retry-After': '30' }));
    expect(errorText(error, (k, v) => translate('ko', k, v))).toBe('요청이 너무 많습니다. 30초 후에 다시 시도하세요. (too many)');
    expect(errorText(error, (k, v) => translate('en', k, v))).toBe('Too many requests. Try again in 30 s. (too many)');
  });

  it('copes with a body that is not an envelope', async () => {
    const error = await fromResponse(new Response('<html>bad gateway</html>', { status: 502 }));
    expect(error).toMatchObject({ status: 502, type: 'server_error' });
    expect(error.retryable).toBe(true);
  });

  it('says network failures plainly', () => {
    expect(errorText(new TypeError('Failed to fetch'), (k, v) => translate('en', k, v))).toBe(
      'Could not reach the server. Check your connection and try again.',
    );
  });
});

describe('router', () => {
  it('matches paths with parameters', () => {
    expect(match('/c/:id', '/c/12?x=1')).toEqual({ id: '12' });
    expect(match('/c/:id', '/c/12/x')).toBeNull();
    expect(match('/admin/:section', '/admin/live')).toEqual({ section: 'live' });
    expect(match('/', '/')).toEqual({});
  });
});
