import { LANGUAGES, useLanguage, useT, type Language } from '../../i18n';
import { useSession } from '../auth/session';

const NAMES: Record<Language, string> = { ko: '한국어', en: 'English' };

/** Switches at once and saves the choice to the account (when signed in). */
export function LanguageSelect({ compact = false, id }: { compact?: boolean; id?: string }) {
  const t = useT();
  const language = useLanguage((s) => s.language);
  const signedIn = useSession((s) => s.status === 'ready');
  const change = (next: Language) => {
    useLanguage.getState().setLanguage(next);
    if (signedIn) void useSession.getState().saveSettings({ language: next }).catch(() => undefined);
  };
  return (
    <select
      id={id}
      aria-label={t('settings.language')}
      value={language}
      onChange={(event) => change(event.target.value as Language)}
      className={
        compact
          ? 'rounded-md border border-zinc-300 bg-white px-1.5 py-1 text-xs dark:border-zinc-700 dark:bg-zinc-900'
          : 'w-full rounded-lg border border-zinc-300 bg-white px-3 py-2 text-sm dark:border-zinc-600 dark:bg-zinc-900'
      }
    >
      {LANGUAGES.map((code) => (
        <option key={code} value={code}>
          {NAMES[code]}
        </option>
      ))}
    </select>
  );
}
