// Browser test of the admin's Groups tab: create a group, add a user, restrict it to one
// model, and see it in the lists; the member then sees and may use only that model.
import assert from 'node:assert/strict';
import { setLanguage, signIn, test } from './harness.mjs';

test('admin creates a group, adds a user and limits it to one model', async (t) => {
  const suffix = Math.random().toString(36).slice(2, 8);
  const email = `groupie-${suffix}@example.com`;
  const password = `groupie-password-${suffix}`;
  const name = `연구팀 <b>${suffix}</b>`;
  const admin = await t.newPage();
  await signIn(admin);
  const created = await admin.evaluate(
    (body) => fetch('/api/admin/users', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.status),
    { email, password },
  );
  assert.equal(created, 201);

  await admin.goto('/admin/groups');
  await admin.getByRole('button', { name: 'New group' }).click();
  const dialog = admin.getByRole('dialog');
  await dialog.getByLabel('Name').fill(name);
  await dialog.getByLabel('Description').fill('Only the fast model');
  await dialog.getByRole('checkbox', { name: 'fake', exact: true }).check();
  await dialog.getByLabel('Requests per day').fill('100');
  await dialog.getByRole('button', { name: 'Save' }).click();
  const row = admin.locator('tr', { hasText: name });
  await row.waitFor(); // the name is text, not markup
  await row.getByText('fake', { exact: true }).waitFor();
  await row.getByText('Requests per day: 100').waitFor();

  await row.getByRole('button', { name: `Members of ${name}` }).click();
  await dialog.getByLabel('Add a member').fill(email);
  await dialog.getByRole('button', { name: `Add ${email}` }).click();
  await dialog.getByRole('list', { name: 'Members' }).getByText(email).waitFor();
  await dialog.getByRole('button', { name: 'Done' }).click();
  await row.locator('td').nth(3).getByText('1', { exact: true }).waitFor();

  await admin.goto('/admin/users');
  await admin.getByRole('searchbox', { name: 'Search users' }).fill(email);
  await admin.locator('tr', { hasText: email }).getByText(name).waitFor();
  await t.screenshot('users', admin);
  assert.deepEqual(admin.errors, []);

  // The member sees only the group's model and is refused another one.
  const member = await t.newPage();
  await signIn(member, { email, password });
  const seen = await member.evaluate(() => fetch('/v1/models').then((r) => r.json()).then((b) => b.data.map((m) => m.id)));
  assert.ok(seen.includes('fake') && !seen.includes('second-model') && !seen.includes('fake-slow-start'), seen.join());
  const refused = await member.evaluate(() =>
    fetch('/api/chat', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ content: 'hi', model: 'second-model' }) }).then(async (r) => [r.status, (await r.json()).error.code]),
  );
  assert.deepEqual(refused, [403, 'model_not_allowed']);

  // The page in Korean, for the documentation, with a second group the member is in.
  await admin.evaluate(async ({ email, suffix }) => {
    const json = { 'Content-Type': 'application/json' };
    const body = { name: `연구팀 ${suffix}`, description: '모든 모델, 넉넉한 한도', models: [], limits: { tokens_per_day: 2000000, requests_per_minute: 0 } };
    const group = await fetch('/api/admin/groups', { method: 'POST', headers: json, body: JSON.stringify(body) }).then((r) => r.json());
    const users = await fetch(`/api/admin/users?q=${encodeURIComponent(email)}`).then((r) => r.json());
    await fetch(`/api/admin/groups/${group.id}/members/${users.data[0].id}`, { method: 'PUT' });
  }, { email, suffix });
  await setLanguage(admin, 'ko');
  await admin.goto('/admin/groups');
  await admin.getByRole('heading', { name: '그룹' }).waitFor();
  await admin.locator('tr', { hasText: name }).waitFor();
  await t.screenshot('ko', admin);
  await setLanguage(admin, 'en');
});
