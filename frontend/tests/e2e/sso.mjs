// Single sign-on in a real browser: the login page's SSO button, the provider's own login
// form (oidc-provider, tests/oidc/provider.mjs, started by scripts/frontend.sh e2e), and
// back into gpuchat signed in; a groups claim puts the user in the gpuchat group of that
// name (GPUCHAT_OIDC_SYNC_GROUPS). Run alone: node tests/e2e/sso.mjs [words].
import assert from 'node:assert/strict';
import { ADMIN, BASE, run, test } from './harness.mjs';

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

test('sso groups claim puts the user in the gpuchat group of that name (GPUCHAT_OIDC_SYNC_GROUPS)', async (t) => {
  // scripts/frontend.sh gives the provider's `e2e-sso-researcher` the groups claim
  // ["sso-research", "not-in-gpuchat"]; the admin creates only `sso-research`, for one model.
  const group = 'sso-research';
  const admin = await t.newPage();
  await admin.goto('/');
  await admin.locator('input[type=email]').fill(ADMIN.email);
  await admin.locator('input[type=password]').fill(ADMIN.password);
  await admin.locator('form button[type=submit]').click();
  await admin.locator('textarea[aria-label]').first().waitFor();
  const made = await admin.evaluate(async (name) => {
    const json = { 'Content-Type': 'application/json' };
    const body = { name, description: 'From the identity provider', models: ['fake-slow-start'] };
    return (await fetch('/api/admin/groups', { method: 'POST', headers: json, body: JSON.stringify(body) })).status;
  }, group);
  assert.ok(made === 201 || made === 409, `group created: ${made}`); // 409: a rerun on the same gateway

  const page = await t.newPage();
  const errors = watchOwnErrors(page);
  await page.goto('/');
  await page.getByRole('link', { name: `Sign in with ${SSO_NAME}` }).click();
  await signInAtProvider(page, 'e2e-sso-researcher');
  await page.locator('textarea[aria-label]').first().waitFor();
  // The member sees the group's model (by its name and alias) and no other in the picker.
  const picker = page.getByRole('combobox', { name: 'Model' });
  await picker.locator('option[value="second-model"]').waitFor({ state: 'attached' });
  const offered = await picker.locator('optgroup option').evaluateAll((options) => options.map((o) => o.value).sort());
  assert.deepEqual(offered, ['fake-slow-start', 'second-model']);
  // The active model (`default`) is not theirs: the chat starts on theirs, and answers.
  await page.waitForFunction(() => document.querySelector('select[aria-label="Model"]')?.value === 'fake-slow-start');
  const composer = page.locator('main form textarea').last();
  await composer.fill('hello from the research group');
  await composer.press('Enter');
  await page.locator('li[data-role=assistant][data-status=complete]').waitFor({ timeout: 30000 });
  assert.equal(await page.locator('[role=alert]').count(), 0, 'no refusal');
  await picker.selectOption('second-model');
  await t.screenshot('member', page);
  assert.deepEqual(errors, []);

  // The admin sees the membership on the Users page; the name no admin created is not a group.
  await admin.goto('/admin/users');
  await admin.getByRole('searchbox', { name: 'Search users' }).fill('researcher@sso.test');
  await admin.waitForFunction(() => document.querySelectorAll('tbody tr').length === 1);
  await admin.getByText('1 user', { exact: true }).waitFor(); // not "1 users"
  await admin.locator('tr', { hasText: 'researcher@sso.test' }).getByText(group, { exact: true }).waitFor();
  const names = await admin.evaluate(() => fetch('/api/admin/groups').then((r) => r.json()).then((b) => b.data.map((g) => g.name)));
  assert.ok(names.includes(group) && !names.includes('not-in-gpuchat'), names.join());
  await t.screenshot('users', admin);
});

await run();
