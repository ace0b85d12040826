/**
 * Single sign-on on the login page: the "Sign in with <provider>" button (a plain link:
 * the browser goes to the provider and comes back through the gateway's callback), and
 * the reason a sign-in came back refused (`?sso_error=` from the callback), translated.
 */
import { KeyRound } from 'lucide-react';
import type { MessageKey } from '../../i18n';
import { useT } from '../../i18n';

const SSO_ERRORS: Record<string, MessageKey> = {
  denied: 'login.ssoError.denied',
  state: 'login.ssoError.state',
  provider: 'login.ssoError.provider',
  unavailable: 'login.ssoError.unavailable',
  disabled: 'login.ssoError.disabled',
  email_missing: 'login.ssoError.emailMissing',
  email_unverified: 'login.ssoError.emailUnverified',
  email_taken: 'login.ssoError.emailTaken',
};

/** The message key for an `sso_error` code; unknown codes read as a provider error. */
export function ssoErrorKey(code: string): MessageKey {
  return SSO_ERRORS[code] ?? 'login.ssoError.provider';
}

/**
 * Takes `sso_error` out of the address bar (once, on first render): the message stays on
 * screen, and after signing in the user does not land on `/login?sso_error=…`.
 */
export function takeSsoError(): string | null {
  if (typeof window === 'undefined') return null;
  const params = new URLSearchParams(window.location.search);
  const code = params.get('sso_error');
  if (code === null) return null;
  window.history.replaceState(null, '', '/');
  return code;
}

/** Where to come back to after the provider: the page the user asked for. */
function nextPath(): string {
  const here = window.location.pathname + window.location.search;
  return here.startsWith('/login') ? '/' : here;
}

export function SsoButton({ name, loginUrl }: { name: string; loginUrl: string }) {
  const t = useT();
  const href = `${loginUrl}?next=${encodeURIComponent(nextPath())}`;
  return (
    <a
      href={href}
      className="inline-flex items-center justify-center gap-2 rounded-lg bg-indigo-600 px-4 py-2 text-sm font-medium text-white shadow-sm hover:bg-indigo-500 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600"
    >
      <KeyRound aria-hidden className="h-4 w-4" />
      {t('login.sso', { name })}
    </a>
  );
}

export function SsoErrorNotice({ code }: { code: string }) {
  const t = useT();
  return (
    <p role="alert" className="rounded-lg border border-red-200 bg-red-50 p-3 text-sm text-red-800 dark:border-red-900 dark:bg-red-950/50 dark:text-red-200">
      {t(ssoErrorKey(code))}
    </p>
  );
}
