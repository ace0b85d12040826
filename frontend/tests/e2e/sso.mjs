// Single sign-on in a real browser: the login page's SSO button, the provider's own login
// form (oidc-provider, tests/oidc/provider.mjs, started by scripts/frontend.sh e2e), and
// back into gpuchat signed in. Run alone: node tests/e2e/sso.mjs [words].
import assert from 'node:assert/strict';
import { BASE, run, test } from './harness.mjs';

const SSO_NAME = process.env.GPUCHAT_E2E_SSO_NAME ?? 'Company SSO';

/**
 * Errors on gpuchat's own pages. The provider's development pages have their own (a web
 * font from the internet, no favicon): not ours, so only errors located on our origin count.
 */
function watchOwnErrors(page) {
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    const where = message.location().url ?? '';
    if (message.type() !== 'error' || !where.startsWith(BASE)) return;
    if (!/status of 401/.test(message.text())) errors.push(`${where}: ${message.text()}`);
  });
  return errors;
}

/** At the provider's development login form: any login name, any password. */
async function signInAtProvider(page, login) {
  await page.locator('input[name=login]').waitFor();
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any-password');
  await page.locator('button[type=submit]').click();
}

test('sso sign-in through the provider (Korean)', async (t) => {
  const page = await t.newPage({ locale: 'ko-KR' });
  const errors = watchOwnErrors(page);
  await page.goto('/settings');
  const button = page.getByRole('link', { name: `${SSO_NAME}(으)로 로그인` });
  await button.waitFor();
  await page.getByLabel('비밀번호').waitFor(); // GPUCHAT_PASSWORD_LOGIN=all: the form too
  await t.screenshot('login');
  await button.click();
  await signInAtProvider(page, 'e2e-sso-user');
  // Back in gpuchat, signed in, on the page first asked for.
  await page.waitForURL(/\/settings$/);
  await page.getByText('e2e-sso-user@sso.test').first().waitFor();
  assert.deepEqual(errors, []);
});

test('sso cancelled at the provider is explained on the login page', async (t) => {
  const page = await t.newPage();
  const errors = watchOwnErrors(page);
  await page.goto('/');
  await page.getByRole('link', { name: `Sign in with ${SSO_NAME}` }).click();
  await page.locator('input[name=login]').waitFor();
  await page.locator('a[href$="/abort"]').click();
  await page
    .getByRole('alert')
    .filter({ hasText: 'Sign-in was cancelled, or consent was denied, at the identity provider.' })
    .waitFor();
  await page.waitForURL((url) => url.pathname === '/' && url.search === '');
  assert.deepEqual(errors, []);
});

await run();
