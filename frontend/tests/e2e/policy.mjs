// Browser test of the chat's "Admin instructions" badge: the e2e profile `fake-policy`
// (alias `policy-model`, scripts/frontend.sh) has an admin system_prompt, `fake` has none.
import assert from 'node:assert/strict';
import { setLanguage, signIn, test } from './harness.mjs';

const PROMPT = process.env.GPUCHAT_E2E_POLICY_PROMPT ?? '';

test('the admin instructions badge shows for a model with an admin system prompt only', async (t) => {
  assert.ok(PROMPT, 'GPUCHAT_E2E_POLICY_PROMPT names the fake-policy profile’s system prompt');
  const page = await t.newPage({ locale: 'ko-KR' });
  await signIn(page);
  await setLanguage(page, 'ko');
  try {
    await page.reload();
    const picker = page.getByRole('combobox', { name: '모델' });
    const badge = page.getByTestId('policy-note');
    // The model list has come (the picker offers policy-model), and `default` (fake) has
    // no admin prompt: no badge.
    await picker.locator('option[value="policy-model"]').waitFor({ state: 'attached' });
    assert.equal(await picker.inputValue(), 'default');
    assert.equal(await badge.count(), 0);

    await picker.selectOption('policy-model');
    await badge.getByText('관리자 지침').click();
    await badge.getByText('관리자가 이 모델에 시스템 프롬프트를 설정했습니다.', { exact: false }).waitFor();
    assert.equal((await badge.locator('p').last().innerText()).trim(), PROMPT);

    // A chat with that model keeps the badge, also after a reload of the conversation.
    await page.locator('main form textarea').last().fill('서울에서 가볼 만한 곳을 추천해 주세요.');
    await page.locator('main form textarea').last().press('Enter');
    await page.locator('li[data-role=assistant][data-status=complete]').waitFor({ timeout: 30000 });
    await page.waitForURL(/\/c\/\d+$/);
    // The fake engine's title is an echo: a readable one for the screenshot.
    const id = page.url().split('/').pop();
    await page.evaluate((id) => fetch(`/api/conversations/${id}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ title: '서울 여행 추천' }) }), id);
    await page.reload();
    await page.locator('li[data-role=assistant][data-status=complete]').waitFor();
    assert.equal(await picker.inputValue(), 'policy-model');
    await badge.getByText('관리자 지침').click();
    await badge.getByText(PROMPT).waitFor();
    await page.evaluate(() => document.activeElement?.blur());
    await t.screenshot('chat-admin-instructions-ko', page);

    // Back to a model without one: the badge goes.
    await picker.selectOption('fake-model');
    await badge.waitFor({ state: 'detached' });
    assert.deepEqual(page.errors, []);
  } finally {
    await setLanguage(page, 'en');
  }
});
