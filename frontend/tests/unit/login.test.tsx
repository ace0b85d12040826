import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { LoginPage } from '../../src/routes/LoginPage';
import { useLanguage } from '../../src/i18n';
import { jsonResponse } from './helpers';

function serveOptions(options: unknown) {
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input) => {
    if (String(input) === '/api/auth/options') return jsonResponse(options);
    return jsonResponse({}, 404);
  });
}

const SSO = { name: 'Corp SSO', login_url: '/api/auth/oidc/login' };

beforeEach(() => {
  useLanguage.getState().setLanguage('en');
  window.history.replaceState(null, '', '/c/42');
});
afterEach(() => vi.restoreAllMocks());

describe('login page', () => {
  it('offers the provider by name, coming back to the page asked for', async () => {
    serveOptions({ password_login: 'all', sso: SSO });
    render(<LoginPage />);
    const button = await screen.findByRole('link', { name: 'Sign in with Corp SSO' });
    expect(button).toHaveAttribute('href', '/api/auth/oidc/login?next=%2Fc%2F42');
    expect(screen.getByLabelText('Password')).toBeInTheDocument();
  });

  it('keeps the password form one click away when passwords are for the first admin only', async () => {
    serveOptions({ password_login: 'off', sso: SSO });
    render(<LoginPage />);
    await screen.findByRole('link', { name: 'Sign in with Corp SSO' });
    expect(screen.queryByLabelText('Password')).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Sign in with a password (administrators)' }));
    expect(screen.getByLabelText('Password')).toBeInTheDocument();
  });

  it('shows only the password form without single sign-on', async () => {
    serveOptions({ password_login: 'off', sso: null });
    render(<LoginPage />);
    expect(await screen.findByLabelText('Password')).toBeInTheDocument();
    expect(screen.queryByRole('link')).not.toBeInTheDocument();
  });

  it('explains a refused sign-in in the user’s language and cleans the address', async () => {
    useLanguage.getState().setLanguage('ko');
    window.history.replaceState(null, '', '/login?sso_error=denied');
    serveOptions({ password_login: 'all', sso: SSO });
    render(<LoginPage />);
    expect(screen.getByRole('alert')).toHaveTextContent('인증 제공자에서 로그인이 취소되었거나 동의가 거부되었습니다.');
    expect(window.location.pathname + window.location.search).toBe('/');
    expect(await screen.findByRole('link', { name: 'Corp SSO(으)로 로그인' })).toBeInTheDocument();
  });
});
