import { useState } from 'react';
import { Button } from '../components/ui/Button';
import { ErrorNotice } from '../components/ui/Feedback';
import { TextInput } from '../components/ui/Field';
import { useSession } from '../features/auth/session';
import { LanguageSelect } from '../features/settings/LanguageSelect';
import { useT } from '../i18n';

export function LoginPage() {
  const t = useT();
  const login = useSession((s) => s.login);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  return (
    <main className="flex min-h-dvh items-center justify-center bg-zinc-50 px-4 dark:bg-zinc-950">
      <form
        className="flex w-full max-w-sm flex-col gap-4 rounded-2xl border border-zinc-200 bg-white p-6 shadow-sm dark:border-zinc-800 dark:bg-zinc-900"
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          setError(null);
          try {
            await login(email.trim(), password);
          } catch (e) {
            setError(e);
          } finally {
            setBusy(false);
          }
        }}
      >
        <div className="flex items-center justify-between">
          <h1 className="flex items-center gap-2 text-xl font-semibold text-zinc-900 dark:text-zinc-100">
            <img src="/favicon.svg" alt="" className="h-7 w-7" />
            gpuchat
          </h1>
          <LanguageSelect compact />
        </div>
        <p className="text-sm text-zinc-500">{t('login.subtitle')}</p>
        <TextInput label={t('login.email')} type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <TextInput label={t('login.password')} type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        {error ? <ErrorNotice error={error} /> : null}
        <Button variant="primary" type="submit" disabled={busy}>
          {busy ? t('login.signingIn') : t('login.submit')}
        </Button>
      </form>
    </main>
  );
}
