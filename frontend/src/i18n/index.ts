/**
 * Every user-visible string goes through `t`. Korean and English catalogs; the English
 * one defines the keys, and the Korean one must have every key (a type error otherwise).
 * The language comes from the user's settings, else the last choice on this browser,
 * else the browser's own languages.
 */
import { useCallback, useMemo } from 'react';
import { create } from 'zustand';
import en from './en';
import ko from './ko';

export type Language = 'ko' | 'en';
export type MessageKey = keyof typeof en;
export type Vars = Record<string, string | number>;
export type Translate = (key: MessageKey, vars?: Vars) => string;

export const LANGUAGES: readonly Language[] = ['ko', 'en'];
const CATALOGS: Record<Language, Record<MessageKey, string>> = { en, ko };
const STORAGE_KEY = 'gpuchat.language';

export function detectLanguage(): Language {
  const stored = safeStorage()?.getItem(STORAGE_KEY);
  if (stored === 'ko' || stored === 'en') return stored;
  const preferred = typeof navigator === 'undefined' ? [] : (navigator.languages ?? []);
  for (const tag of preferred) {
    const base = tag.toLowerCase().split('-')[0];
    if (base === 'ko' || base === 'en') return base;
  }
  return 'en';
}

interface LanguageState {
  language: Language;
  setLanguage: (language: Language) => void;
}

export const useLanguage = create<LanguageState>((set) => ({
  language: detectLanguage(),
  setLanguage: (language) => {
    safeStorage()?.setItem(STORAGE_KEY, language);
    if (typeof document !== 'undefined') document.documentElement.lang = language;
    set({ language });
  },
}));

export function translate(language: Language, key: MessageKey, vars?: Vars): string {
  const template = CATALOGS[language][key] ?? en[key] ?? key;
  if (!vars) return template;
  return pluralize(language, template, vars).replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in vars ? String(vars[name]) : whole,
  );
}

// `{count, plural, one {# user} other {# users}}`: the ICU MessageFormat plural, without
// nesting; `#` is the number. Korean has no plural and writes `사용자 {count}명` instead.
const PLURAL = /\{(\w+), plural,((?:\s*(?:=\d+|\w+)\s*\{[^{}]*\})+)\s*\}/g;
const PLURAL_FORM = /(=\d+|\w+)\s*\{([^{}]*)\}/g;
const pluralRules = new Map<Language, Intl.PluralRules>();

/** The forms of `template` chosen by the numbers in `vars` (an exact `=n` first, then the
 * language's plural category, then `other`). */
export function pluralize(language: Language, template: string, vars: Vars): string {
  return template.replace(PLURAL, (whole, name: string, body: string) => {
    const count = Number(vars[name]);
    if (!(name in vars) || Number.isNaN(count)) return whole;
    const forms = new Map([...body.matchAll(PLURAL_FORM)].map((m) => [m[1], m[2]]));
    let rules = pluralRules.get(language);
    if (!rules) {
      rules = new Intl.PluralRules(language);
      pluralRules.set(language, rules);
    }
    const form = forms.get(`=${count}`) ?? forms.get(rules.select(count)) ?? forms.get('other') ?? whole;
    return form.replaceAll('#', String(vars[name]));
  });
}

export function useT(): Translate {
  const language = useLanguage((state) => state.language);
  return useCallback((key, vars) => translate(language, key, vars), [language]);
}

/** Numbers, dates and times in the chosen language. */
export function useFormat() {
  const language = useLanguage((state) => state.language);
  return useMemo(
    () => ({
      number: (value: number, digits = 0) =>
        new Intl.NumberFormat(language, { maximumFractionDigits: digits }).format(value),
      dateTime: (iso: string) =>
        new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short' }).format(
          new Date(iso),
        ),
      date: (iso: string) =>
        new Intl.DateTimeFormat(language, { dateStyle: 'medium' }).format(new Date(iso)),
    }),
    [language],
  );
}

function safeStorage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}
