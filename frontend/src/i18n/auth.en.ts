/** English: signing in (password and single sign-on). */
const authEn = {
  'login.email': 'Email',
  'login.password': 'Password',
  'login.signingIn': 'Signing in…',
  'login.submit': 'Sign in',
  'login.subtitle': 'Sign in to chat with your team’s models.',
  'login.or': 'or',
  'login.sso': 'Sign in with {name}',
  'login.passwordToggle': 'Sign in with a password (administrators)',
  'login.passwordOff': 'Password sign-in is turned off for this account. Use single sign-on.',
  'login.ssoError.denied': 'Sign-in was cancelled, or consent was denied, at the identity provider.',
  'login.ssoError.state': 'This sign-in expired or was not started in this browser. Please try again.',
  'login.ssoError.provider': 'The identity provider’s answer could not be verified. Try again, or contact an administrator.',
  'login.ssoError.unavailable': 'Single sign-on is unavailable right now. Try again later.',
  'login.ssoError.disabled': 'This account is disabled. Contact an administrator.',
  'login.ssoError.emailMissing': 'The identity provider did not share an email address, which gpuchat needs.',
  'login.ssoError.emailUnverified': 'An account with this email already exists, and the identity provider has not verified the email. Contact an administrator.',
  'login.ssoError.emailTaken': 'This email already belongs to another single sign-on identity. Contact an administrator.',
} as const;

export default authEn;
