import { useEffect, useState } from 'react';
import { ApiError } from '../api/errors';
import { Button } from '../components/ui/Button';
import { ErrorNotice } from '../components/ui/Feedback';
import { TextInput } from '../components/ui/Field';
import { fetchAuthOptions, type AuthOptions } from '../features/auth/api';
import { useSession } from '../features/auth/session';
import { SsoButton, SsoErrorNotice, takeSsoError } from '../features/auth/SsoSignIn';
import { LanguageSelect } from '../features/settings/LanguageSelect';
import { useT } from '../i18n';

/** Without an answer from /api/auth/options (an older gateway): the password form. */
const PASSWORD_ONLY: AuthOptions = { password_login: 'all', sso: null };

export function LoginPage() {
  const t = useT();
  const [options, setOptions] = useState<AuthOptions | null>(null);
  const [ssoError] = useState(takeSsoError);
  const [passwordOpen, setPasswordOpen] = useState(false);

  useEffect(() => {
    fetchAuthOptions().then(setOptions, () => setOptions(PASSWORD_ONLY));
  }, []);

  const sso = options?.sso ?? null;
  // With SSO, the password form comes first only when everyone may use it; otherwise it
  // is one click away (the first admin always signs in with a password).
  const passwordShown = options !== null && (sso === null || options.password_login === 'all' || passwordOpen);

  return (
    <main className="flex min-h-dvh items-center justify-center bg-zinc-50 px-4 dark:bg-zinc-950">
      <div className="flex w-full max-w-sm flex-col gap-4 rounded-2xl border border-zinc-200 bg-white p-6 shadow-sm dark:border-zinc-800 dark:bg-zinc-900">
        <div className="flex items-center justify-between">
          <h1 className="flex items-center gap-2 text-xl font-semibold text-zinc-900 dark:text-zinc-100">
            <img src="/favicon.svg" alt="" className="h-7 w-7" />
            gpuchat
          </h1>
          <LanguageSelect compact />
        </div>
        <p className="text-sm text-zinc-500">{t('login.subtitle')}</p>
        {ssoError !== null ? <SsoErrorNotice code={ssoError} /> : null}
        {sso !== null ? <SsoButton name={sso.name} loginUrl={sso.login_url} /> : null}
        {sso !== null && passwordShown ? (
          <div className="flex items-center gap-3 text-xs text-zinc-400" aria-hidden>
            <span className="h-px flex-1 bg-zinc-200 dark:bg-zinc-700" />
            {t('login.or')}
            <span className="h-px flex-1 bg-zinc-200 dark:bg-zinc-700" />
          </div>
        ) : null}
        {passwordShown ? <PasswordForm /> : null}
        {sso !== null && !passwordShown ? (
          <button
            type="button"
            className="self-center text-sm text-zinc-500 underline-offset-2 hover:text-zinc-800 hover:underline dark:hover:text-zinc-200"
            onClick={() => setPasswordOpen(true)}
          >
            {t('login.passwordToggle')}
          </button>
        ) : null}
      </div>
    </main>
  );
}

function PasswordForm() {
  const t = useT();
  const login = useSession((s) => s.login);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const passwordOff = error instanceof ApiError && error.code === 'password_login_disabled';

  return (
    <form
      className="flex flex-col gap-4"
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
      <TextInput label={t('login.email')} type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
      <TextInput label={t('login.password')} type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
      {passwordOff ? (
        <p role="alert" className="rounded-lg border border-red-200 bg-red-50 p-3 text-sm text-red-800 dark:border-red-900 dark:bg-red-950/50 dark:text-red-200">
          {t('login.passwordOff')}
        </p>
      ) : error ? (
        <ErrorNotice error={error} />
      ) : null}
      <Button variant="primary" type="submit" disabled={busy}>
        {busy ? t('login.signingIn') : t('login.submit')}
      </Button>
    </form>
  );
}
