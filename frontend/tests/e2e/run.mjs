// Browser end-to-end tests against a running gateway with the fake upstream
// (scripts/frontend.sh e2e starts both). Run one test: node tests/e2e/run.mjs <words>.
import assert from 'node:assert/strict';
import { ADMIN, BASE, run, setLanguage as setUserLanguage, signIn, test } from './harness.mjs';
import './groups.mjs';
import './policy.mjs';

// ---- helpers --------------------------------------------------------------------------

const login = signIn;

const composer = (page) => page.locator('main form textarea').last();
const answers = (page) => page.locator('li[data-role=assistant]');
const lastAnswer = (page) => answers(page).last();

async function send(page, text) {
  page.answersBefore = await answers(page).count();
  await composer(page).fill(text);
  await composer(page).press('Enter');
}

/** The answer to the last `send` (a new last assistant message), once it has `status`. */
async function waitForAnswer(page, status = 'complete') {
  await page.waitForFunction(
    ([before, want]) => {
      const all = document.querySelectorAll('li[data-role=assistant]');
      return all.length > before && all[all.length - 1].dataset.status === want;
    },
    [page.answersBefore ?? 0, status],
  );
  return lastAnswer(page);
}

// ---- tests ----------------------------------------------------------------------------

test('login shows the chat', async (t) => {
  const page = await t.newPage();
  await page.goto('/');
  await page.getByRole('heading', { name: 'gpuchat' }).waitFor();
  await t.screenshot('login');
  await page.locator('input[type=email]').fill(ADMIN.email);
  await page.locator('input[type=password]').fill('wrong-password');
  await page.locator('form button[type=submit]').click();
  await page.getByRole('alert').waitFor();
  await login(page);
  await page.getByText('How can I help?').waitFor();
  await page.getByTestId('engine-chip').getByText('Ready').waitFor();
});

test('send a message and watch it stream', async (t) => {
  const page = await t.newPage();
  await login(page);
  await send(page, '!tokens 60 !gap 0.04');
  // Part of the answer is on screen while it still streams.
  await page.locator('li[data-role=assistant][data-status=streaming]', { hasText: 't3' }).waitFor();
  await t.screenshot('streaming');
  const answer = await waitForAnswer(page);
  assert.match(await answer.innerText(), /t0 t1 t2[\s\S]*t59/);
  await answer.locator('.stats').getByText(/tok\/s/).waitFor();
  await page.waitForURL(/\/c\/\d+$/);
  assert.deepEqual(page.errors, []);
});

test('stop mid-answer keeps the partial answer after reload', async (t) => {
  const page = await t.newPage();
  await login(page);
  await send(page, '!tokens 400 !gap 0.05');
  await page.locator('li[data-role=assistant][data-status=streaming]', { hasText: 't5' }).waitFor();
  await page.keyboard.press('Escape');
  const answer = await waitForAnswer(page, 'interrupted');
  const partial = await answer.locator('.markdown').innerText();
  assert.ok(!partial.includes('t399'), 'the answer stopped early');
  await page.reload();
  page.answersBefore = 0;
  const stored = await waitForAnswer(page, 'interrupted');
  const storedText = await stored.locator('.markdown').innerText();
  assert.match(storedText, /t0 t1 t2 t3 t4 t5/);
  assert.ok(!storedText.includes('t399'));
  await stored.getByText('this answer is incomplete').waitFor();
});

test('regenerate replaces the last answer', async (t) => {
  const page = await t.newPage();
  await login(page);
  await send(page, 'regenerate me please');
  const first = await waitForAnswer(page);
  const firstId = await first.getAttribute('data-message-id');
  await first.getByRole('button', { name: 'Regenerate' }).click();
  await page.waitForFunction(
    (id) => {
      const last = [...document.querySelectorAll('li[data-role=assistant]')].pop();
      return last && last.dataset.status === 'complete' && last.dataset.messageId && last.dataset.messageId !== id;
    },
    firstId,
  );
  assert.equal(await answers(page).count(), 1, 'one answer for the one question');
  assert.match(await lastAnswer(page).innerText(), /echo: regenerate me please/);
  // And after a reload the thread shows the regenerated answer only.
  await page.reload();
  page.answersBefore = 0;
  await waitForAnswer(page);
  assert.equal(await answers(page).count(), 1);
});

test('edit and resend a question', async (t) => {
  const page = await t.newPage();
  await login(page);
  await send(page, 'first wording');
  await waitForAnswer(page);
  await page.locator('li[data-role=user]').last().hover();
  await page.getByRole('button', { name: 'Edit message' }).click();
  await page.getByRole('textbox', { name: 'Edit message' }).fill('second wording');
  await page.getByRole('button', { name: 'Send', exact: true }).first().click();
  await page.locator('li[data-role=assistant][data-status=complete]', { hasText: 'echo: second wording' }).waitFor();
  assert.equal(await page.locator('li[data-role=user]').count(), 1);
});

test('a reasoning model’s thinking shows above its answer, apart from it', async (t) => {
  const page = await t.newPage();
  await login(page);
  // While the model thinks the section is open and fills; the answer's first text closes it.
  await send(page, '!think 40 !tokens 3 !gap 0.05');
  const live = page.locator('li[data-role=assistant][data-status=streaming] .reasoning[data-thinking]');
  await live.getByRole('region', { name: 'Thinking…' }).filter({ hasText: 'r5' }).waitFor();
  await t.screenshot('thinking');
  const thought = await waitForAnswer(page);
  assert.equal(await thought.getByRole('button', { name: /^Thought for/ }).getAttribute('aria-expanded'), 'false');

  await send(page, '!think 4 !tokens 3 !gap 0.05');
  let answer = await waitForAnswer(page);
  const answerText = () => answer.locator(':scope > div > .markdown').innerText();
  // Once the answer began the thinking folded away, its header saying for how long.
  let header = answer.getByRole('button', { name: /^Thought for [\d.]+ s$/ });
  assert.equal(await header.getAttribute('aria-expanded'), 'false');
  assert.equal((await answerText()).trim(), 't0 t1 t2');
  assert.doesNotMatch(await answer.innerText(), /r0/);
  await header.click();
  assert.equal((await answer.getByRole('region').innerText()).trim(), 'r0 r1 r2 r3');
  // Stored apart from the answer: the same after a reload, here in Korean.
  await page.evaluate(() => fetch('/api/me/settings', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ language: 'ko' }) }));
  try {
    await page.reload();
    page.answersBefore = 0;
    answer = await waitForAnswer(page);
    header = answer.getByRole('button', { name: /^[\d.]+초 동안 생각함$/ });
    assert.equal(await header.getAttribute('aria-expanded'), 'false');
    assert.equal((await answerText()).trim(), 't0 t1 t2');
    await header.click();
    assert.equal((await answer.getByRole('region').innerText()).trim(), 'r0 r1 r2 r3');
    await t.screenshot('chat-reasoning-ko');
  } finally {
    await page.evaluate(() => fetch('/api/me/settings', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ language: 'en' }) }));
  }
  assert.deepEqual(page.errors, []);
});

test('switch the language to Korean and back', async (t) => {
  const page = await t.newPage();
  await login(page);
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { name: 'Settings' }).waitFor();
  await page.getByRole('combobox', { name: 'Language' }).first().selectOption('ko');
  await page.getByRole('heading', { name: '설정' }).waitFor();
  await t.screenshot('settings-ko');
  // Saved to the account: a new browser (no local storage) signs in in Korean.
  const other = await t.newPage({ locale: 'en-US' });
  await login(other);
  await other.getByText('무엇을 도와드릴까요?').waitFor();
  await other.getByRole('combobox', { name: '언어' }).first().selectOption('en');
  await other.getByText('How can I help?').waitFor();
});

test('two users in turn on one page: the second sees nothing of the first', async (t) => {
  const page = await t.newPage();
  await login(page);
  const stamp = Date.now().toString(36);
  const marker = `private-${stamp}`; // in the first user's chat only
  const second = { email: `second-${stamp}@example.com`, password: `pw-${stamp}-long-enough` };
  const created = await page.request.post('/api/admin/users', {
    data: { email: second.email, password: second.password, role: 'user' },
  });
  assert.equal(created.status(), 201, await created.text());
  await send(page, `${marker} is the first user's secret`);
  await waitForAnswer(page);
  await page.waitForURL(/\/c\/\d+$/);
  await page.getByText(marker).first().waitFor();
  await page.getByRole('button', { name: /Sign out|로그아웃/ }).click();
  await page.locator('input[type=email]').waitFor();
  await page.locator('input[type=email]').fill(second.email);
  await page.locator('input[type=password]').fill(second.password);
  await page.locator('form button[type=submit]').click();
  await page.locator('textarea[aria-label]').first().waitFor();
  await page.waitForTimeout(500); // let any late render of old state happen
  const html = await page.content();
  const at = html.indexOf(marker);
  assert.ok(at < 0, `the first user's chat is still on the page: ${html.slice(Math.max(0, at - 300), at + 100)}`);
  await page.getByRole('button', { name: /New chat|새 채팅/ }).waitFor();
  assert.ok(!(await page.content()).includes(marker));
});

test('a message with HTML and javascript: links renders inert', async (t) => {
  const page = await t.newPage();
  const dialogs = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await login(page);
  const attack = [
    '<img src=x onerror="alert(1)">',
    '<script>alert(2)</script>',
    '[click](javascript:alert(3))',
    '<a href="javascript:alert(4)" onclick="alert(5)">x</a>',
    '[data](data:text/html;base64,PHNjcmlwdD5hbGVydCg2KTwvc2NyaXB0Pg==)',
    '![img](javascript:alert(7))',
    '<svg onload=alert(8)>',
    '[ok](https://example.com)',
  ].join(' ');
  await send(page, attack);
  const answer = await waitForAnswer(page);
  await answer.getByText('<script>alert(2)</script>', { exact: false }).waitFor();
  await page.waitForTimeout(500);
  const found = await page.evaluate(() => {
    const root = document.getElementById('root');
    const all = [...root.querySelectorAll('*')];
    return {
      handlers: all.flatMap((el) => [...el.attributes].filter((a) => a.name.startsWith('on')).map((a) => `${el.tagName}@${a.name}`)),
      scripts: root.querySelectorAll('script, iframe, object, embed, svg[onload], img[src="x"]').length,
      badLinks: all
        .filter((el) => el.hasAttribute('href') || el.hasAttribute('src'))
        .map((el) => el.getAttribute('href') ?? el.getAttribute('src'))
        .filter((url) => /^\s*(javascript|data|vbscript):/i.test(url)),
      safeLink: !!root.querySelector('a[href="https://example.com"][rel~=noopener]'),
    };
  });
  assert.deepEqual(found.handlers, []);
  assert.equal(found.scripts, 0);
  assert.deepEqual(found.badLinks, []);
  assert.ok(found.safeLink, 'an https link stays a link');
  assert.deepEqual(dialogs, []);
});

test('admin activates another profile and watches its state change', async (t) => {
  const page = await t.newPage();
  await login(page);
  await page.goto('/admin/models');
  const card = page.getByTestId('profile-fake-slow-start').locator('..');
  const state = page.getByTestId('state-fake-slow-start');
  await state.waitFor();
  await card.getByRole('button', { name: 'Activate' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Activate' }).click();
  await page.locator('[data-testid=state-fake-slow-start][data-state=starting]').waitFor();
  await t.screenshot('starting');
  await page.locator('[data-testid=state-fake-slow-start][data-state=ready]').waitFor({ timeout: 30000 });
  // Back to the first profile, so later tests chat with it.
  const first = page.getByTestId('profile-fake').locator('..');
  await first.getByRole('button', { name: 'Activate' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Activate' }).click();
  await page.waitForFunction(() => document.querySelector('[data-testid=profile-fake] [aria-label=Active]') !== null, null, { timeout: 30000 });
  await page.locator('[data-testid=state-fake][data-state=ready]').waitFor({ timeout: 30000 });
});

test('admin creates a profile by cloning, edits it with a live preview, and saves it', async (t) => {
  const page = await t.newPage({ locale: 'ko-KR' });
  await login(page);
  await page.evaluate(() => fetch('/api/me/settings', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ language: 'ko' }) }));
  await page.goto('/admin/profiles');
  const source = page.getByTestId('definition-fake-slow-start');
  await source.getByRole('button', { name: '복제' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('복사본 이름').fill('e2e-clone');
  await dialog.getByRole('button', { name: '복제' }).click();
  // The copy opens in the editor; its command line shows with the port placeholder.
  await page.getByRole('heading', { name: 'e2e-clone 편집' }).waitFor();
  const preview = page.getByTestId('profile-preview');
  await preview.filter({ hasText: '--load-seconds 3' }).waitFor();
  assert.match(await preview.innerText(), /--port <port>/);
  // An invalid value is refused with its field path; a valid edit changes the preview.
  const editor = page.getByTestId('profile-text');
  // The copy keeps the test machine's paths: written shorter here (it is never started),
  // so the screenshot shows no machine path.
  const text = (await editor.inputValue())
    .replace(/^- .*\/python3?$/m, '- python')
    .replace(/^- .*\/upstream\.py$/m, '- tests/fakes/upstream.py')
    .replace("- '3'", "- '7'");
  await editor.fill(text.replace(/^max_concurrency: \d+$/m, 'max_concurrency: 0'));
  await page.getByTestId('profile-invalid').filter({ hasText: 'max_concurrency' }).waitFor();
  await editor.fill(text.replace(/^max_concurrency: \d+$/m, 'max_concurrency: 2'));
  await preview.filter({ hasText: '--load-seconds 7' }).waitFor();
  await page.getByTestId('profile-validity').filter({ hasText: '올바름' }).waitFor();
  await t.screenshot('admin-profile-editor-ko', page);
  // The clone is listed already: wait for the save's own answer before reading it back.
  const [saved] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/admin/profiles/definitions/e2e-clone') && r.request().method() === 'PUT'),
    page.getByRole('button', { name: '저장' }).click(),
  ]);
  assert.equal(saved.status(), 200);
  const stored = await page.evaluate(() => fetch('/api/admin/profiles/definitions/e2e-clone').then((r) => r.json()));
  assert.equal(stored.document.max_concurrency, 2);
  assert.deepEqual(stored.document.command.slice(0, 2), ['python', 'tests/fakes/upstream.py']);
  assert.ok(stored.document.command.includes('7'));
  assert.equal(stored.document.aliases, undefined, 'a clone has no aliases');
  // The new profile shows on the models page at once; then it is deleted again.
  await page.goto('/admin/models');
  await page.getByTestId('profile-e2e-clone').waitFor();
  await page.goto('/admin/profiles');
  await page.getByRole('button', { name: '삭제 e2e-clone' }).click();
  await page.getByRole('dialog').getByRole('button', { name: '삭제' }).click();
  await page.getByTestId('definition-e2e-clone').waitFor({ state: 'detached' });
  await page.evaluate(() => fetch('/api/me/settings', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ language: 'en' }) }));
});

test('admin live view shows a running answer and stops it', async (t) => {
  const admin = await t.newPage();
  await login(admin);
  const chat = await t.newPage();
  await login(chat);
  await send(chat, '!tokens 600 !gap 0.05');
  await chat.locator('li[data-role=assistant][data-status=streaming]', { hasText: 't3' }).waitFor();
  await admin.goto('/admin/live');
  const row = admin.getByTestId('live-stream').first();
  await row.waitFor();
  await admin.waitForTimeout(1200); // a second snapshot, with tokens/s
  await t.screenshot('live', admin);
  await row.getByRole('button', { name: /Stop the answer/ }).click();
  await chat.waitForFunction(() => {
    const last = [...document.querySelectorAll('li[data-role=assistant]')].pop();
    return last && ['error', 'interrupted'].includes(last.dataset.status);
  });
  await admin.getByText('Nothing is generating right now.').waitFor();
});

test('usage page shows the requests and the CSV parses', async (t) => {
  const page = await t.newPage();
  await login(page);
  await page.goto('/admin/usage');
  const requests = page.getByTestId('usage-Requests');
  await requests.waitFor();
  const total = Number((await requests.innerText()).replace(/[^\d]/g, ''));
  assert.ok(total > 0, 'the chats of the earlier tests are counted');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()]);
  const text = await (await download.createReadStream()).toArray().then((chunks) => Buffer.concat(chunks).toString('utf8'));
  const rows = parseCsv(text);
  assert.ok(rows.length >= 2, 'a header and rows');
  const width = rows[0].length;
  assert.ok(rows.every((row) => row.length === width), 'every row has the header’s columns');
  assert.ok(rows.length - 1 >= Math.min(total, 1));
});

/** Requests through /v1 from the signed-in page: two models, TTFTs, a few upstream errors. */
async function makeUsage(page) {
  await page.evaluate(async () => {
    const ask = (model, text) =>
      fetch('/v1/chat/completions', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: text }] }),
      }).then((r) => r.text());
    for (let i = 0; i < 6; i++) await ask('fake-model', `!tokens ${10 + 15 * i} !prefill ${0.02 * i}`);
    for (let i = 0; i < 3; i++) await ask('default', `!tokens ${40 + 20 * i}`);
    for (let i = 0; i < 2; i++) await ask('fake-model', '!reject 400');
  });
}

/** The last seven days, as the date inputs want them (charts show today's spike in a week). */
function lastWeek() {
  const day = (offset) => new Date(Date.now() - offset * 86400000).toISOString().slice(0, 10);
  return { from: day(6), to: day(0) };
}

test('usage charts on the admin page and in my usage', async (t) => {
  const page = await t.newPage({ locale: 'ko-KR', viewport: { width: 1280, height: 1380 } });
  await login(page);
  await page.evaluate(() => fetch('/api/me/settings', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ language: 'ko' }) }));
  await makeUsage(page);
  page.errors.length = 0; // the console reports the refused requests
  const { from, to } = lastWeek();

  await page.goto('/admin/usage');
  await page.getByLabel('시작일').fill(from);
  await page.getByLabel('종료일').fill(to);
  for (const metric of ['requests', 'tokens', 'errors', 'ttft']) {
    await page.getByTestId(`usage-chart-${metric}`).locator('canvas').waitFor();
  }
  const requests = page.getByTestId('usage-chart-requests');
  // The legend names both models; the table behind the chart holds today's requests.
  await requests.locator('.u-legend').getByText('fake-model').waitFor();
  await requests.locator('.u-legend').getByText('default', { exact: true }).waitFor();
  await requests.getByText('표로 보기').click();
  const cells = await requests.locator('tbody tr').last().locator('td').allInnerTexts();
  assert.ok(cells.slice(1).some((cell) => Number(cell.replace(/[^\d]/g, '')) > 0), `requests in the table: ${cells}`);
  const errors = await page.getByTestId('usage-chart-errors').locator('p.sr-only').innerText();
  assert.match(errors, /fake-model: 합계 [1-9]/);
  await requests.getByText('표로 보기').click();
  // Hovering today's point shows its values in the legend (the chart's tooltip).
  await page.evaluate(() => document.activeElement?.blur());
  const over = requests.locator('.u-over');
  // The chart is drawn anew when the answer for the second date arrives, which may come
  // after a first hover: move over it again until the legend follows the cursor.
  const box = await over.boundingBox();
  let shown = [];
  for (let i = 0; i < 20 && !shown.slice(1).some((value) => Number(value) > 0); i++) {
    await over.hover({ position: { x: box.width - 1 - (i % 2), y: box.height / 2 } });
    await page.waitForTimeout(100);
    shown = await requests.locator('.u-legend .u-value').allInnerTexts();
  }
  assert.ok(shown.slice(1).some((value) => Number(value) > 0), `legend values: ${shown}`);
  await t.screenshot('usage-charts-ko', page);
  // One day: the axis names that day once, between the day before and the day after (the
  // screenshot shows it; the ticks are canvas, tested in Vitest).
  const oneDay = page.waitForResponse((r) => r.url().includes('/usage/series') && r.url().includes(`from=${to}`));
  await page.getByLabel('시작일').fill(to);
  assert.equal((await (await oneDay).json()).buckets.length, 1);
  await requests.locator('canvas').waitFor();
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
  await t.screenshot('usage-one-day-ko', page);

  // A daily and monthly token quota on this account, shown against what was used.
  const setLimits = (limits) =>
    page.evaluate(async (body) => {
      const me = await (await fetch('/api/me')).json();
      const headers = { 'Content-Type': 'application/json' };
      await fetch(`/api/admin/users/${me.id}`, { method: 'PATCH', headers, body: JSON.stringify({ limits: body }) });
    }, limits);
  await setLimits({ tokens_per_day: 2000, tokens_per_month: 100000, requests_per_minute: 600 });
  await page.goto('/settings');
  const usage = page.locator('#my-usage').locator('..');
  await usage.getByTestId('quota-day').getByRole('progressbar').waitFor();
  await usage.getByTestId('quota-day').getByText(/2,000 중 \d[\d,]* 사용/).waitFor();
  await usage.getByText(/분당 요청 600/).waitFor();
  const today = await usage.getByTestId('quota-day').innerText();
  assert.ok(Number(today.match(/요청\s*([\d,]+)/)?.[1].replace(/,/g, '')) >= 11, today);
  await usage.getByLabel('시작일').fill(from);
  await usage.getByLabel('종료일').fill(to);
  await usage.getByTestId('usage-chart-requests').locator('canvas').waitFor();
  await usage.getByTestId('usage-chart-ttft').locator('.u-legend').getByText('fake-model').waitFor();
  await page.evaluate(() => document.activeElement?.blur());
  await usage.evaluate((element) => element.scrollIntoView());
  await t.screenshot('my-usage-ko', page);
  // Dark theme: the same charts, still drawn.
  await page.emulateMedia({ colorScheme: 'dark' });
  await usage.getByTestId('usage-chart-requests').locator('canvas').waitFor();
  await t.screenshot('my-usage-dark-ko', page);
  const [download] = await Promise.all([page.waitForEvent('download'), usage.getByRole('link', { name: 'CSV 내려받기' }).click()]);
  const rows = parseCsv(await (await download.createReadStream()).toArray().then((chunks) => Buffer.concat(chunks).toString('utf8')));
  assert.ok(rows.length >= 12, 'a header and my requests');
  assert.ok(rows.slice(1).every((row) => row[4] === ADMIN.email), 'only my own rows');
  await setLimits({ tokens_per_day: null, tokens_per_month: null, requests_per_minute: null });
  await page.evaluate(() => fetch('/api/me/settings', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ language: 'en' }) }));
  assert.deepEqual(page.errors, []);
});

test('screenshots of every page in Korean and English', async (t) => {
  for (const language of ['en', 'ko']) {
    const page = await t.newPage({ locale: language === 'ko' ? 'ko-KR' : 'en-US' });
    await login(page);
    await page.evaluate((lang) => fetch('/api/me/settings', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ language: lang }) }), language);
    await page.reload();
    await send(page, language === 'ko' ? '안녕하세요! **마크다운**도 됩니다: `인라인 코드`, *강조*, [링크](https://example.com).' : 'Hello! **Markdown** works: `inline code`, *emphasis* and [a link](https://example.com).');
    await waitForAnswer(page);
    await send(page, '!tokens 30');
    await waitForAnswer(page);
    await t.screenshot(`chat-${language}`, page);
    const chatUrl = page.url();
    // An answer in progress, for the live view.
    const other = await t.newPage();
    await login(other);
    await send(other, '!tokens 400 !gap 0.05');
    await other.locator('li[data-role=assistant][data-status=streaming]', { hasText: 't3' }).waitFor();
    for (const section of ['models', 'live', 'usage', 'users', 'groups']) {
      await page.goto(`/admin/${section}`);
      await page.waitForTimeout(1500);
      await t.screenshot(`admin-${section}-${language}`, page);
    }
    await other.keyboard.press('Escape');
    await waitForAnswer(other, 'interrupted');
    await page.goto('/settings');
    await page.waitForTimeout(800);
    await t.screenshot(`settings-${language}`, page);
    const phone = await t.newPage({ locale: 'en-US', viewport: { width: 390, height: 844 } });
    await login(phone);
    await t.screenshot(`phone-${language}`, phone);
    // The theme follows the system by default: the same chat in a dark browser.
    const dark = await t.newPage({ colorScheme: 'dark' });
    await login(dark);
    await dark.goto(chatUrl);
    await waitForAnswer(dark);
    await t.screenshot(`chat-dark-${language}`, dark);
  }
  await t.page.evaluate(() => fetch('/api/me/settings', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ language: 'en' }) }));
});

test('the Korean admin page says the gateway’s engine and GPU messages in Korean', async (t) => {
  const page = await t.newPage({ locale: 'ko-KR' });
  await login(page);
  await page.evaluate(() => fetch('/api/me/settings', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ language: 'ko' }) }));
  try {
    await page.goto('/admin/models');
    // This host has no NVIDIA driver (the test machine): the gateway's reason, translated.
    const gpu = page.getByText(/^GPU 없음: /).first();
    await gpu.waitFor();
    assert.match(await gpu.innerText(), /NVIDIA GPU나 드라이버가 없습니다|nvidia-ml-py/);
    assert.doesNotMatch(await page.locator('main').innerText(), /no NVIDIA GPU or driver on this host/);
    await t.screenshot('admin-models-ko', page);
  } finally {
    await page.evaluate(() => fetch('/api/me/settings', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ language: 'en' }) }));
  }
});

test('thumbs down with a comment in the chat, and the admin sees it under Feedback', async (t) => {
  const admin = await t.newPage({ locale: 'ko-KR' });
  await login(admin);
  const email = `rater-${Date.now()}@example.com`;
  const password = 'rater-password-0123';
  const created = await admin.evaluate(
    ([email, password]) => fetch('/api/admin/users', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password, role: 'user' }) }).then((r) => r.status),
    [email, password],
  );
  assert.equal(created, 201);
  // The new user has no language of their own: the Korean browser decides.
  const page = await t.newPage({ locale: 'ko-KR' });
  await login(page, { email, password });
  const question = '서울의 인구는 얼마인가요?';
  const comment = '질문과 상관없는 답입니다. =HYPERLINK("x")';
  await send(page, question);
  const answer = await waitForAnswer(page);
  const down = answer.getByRole('button', { name: '아쉬운 답변' });
  const up = answer.getByRole('button', { name: '좋은 답변' });
  assert.equal(await down.getAttribute('aria-pressed'), 'false');
  await down.click();
  const box = answer.getByRole('textbox', { name: '어떤 점이 아쉬웠나요? (선택)' });
  await box.fill(comment);
  assert.equal(await down.getAttribute('aria-pressed'), 'true');
  await t.screenshot('chat-ko', page);
  await answer.getByRole('button', { name: '의견 보내기' }).click();
  await answer.getByText('의견을 보내 주셔서 고맙습니다.').waitFor();
  // After a reload the chosen thumb is still pressed, with the comment kept.
  await page.reload();
  page.answersBefore = 0;
  const stored = await waitForAnswer(page);
  assert.equal(await stored.getByRole('button', { name: '아쉬운 답변' }).getAttribute('aria-pressed'), 'true');
  assert.equal(await stored.getByRole('button', { name: '좋은 답변' }).getAttribute('aria-pressed'), 'false');
  await stored.getByRole('button', { name: '의견 고치기' }).click();
  assert.equal(await stored.getByRole('textbox').inputValue(), comment);
  assert.equal(await up.count(), 1);
  assert.deepEqual(page.errors, []);

  await admin.evaluate(() => fetch('/api/me/settings', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ language: 'ko' }) }));
  try {
    await admin.goto('/admin/models');
    await admin.getByRole('navigation', { name: '관리' }).getByRole('link', { name: '피드백' }).click();
    const table = admin.getByRole('table', { name: '답변 피드백' });
    const row = table.locator('tr', { hasText: email });
    await row.getByText(comment).waitFor();
    await row.getByText(question, { exact: true }).waitFor();
    await row.getByText(`echo: ${question}`).waitFor(); // the fake engine's answer
    await row.getByRole('img', { name: '싫어요' }).waitFor();
    await admin.getByLabel('평가').selectOption('down');
    await admin.getByLabel('의견', { exact: true }).selectOption('true');
    await row.waitFor();
    await t.screenshot('admin-ko', admin);
    const [download] = await Promise.all([admin.waitForEvent('download'), admin.getByRole('link', { name: 'CSV 내려받기' }).click()]);
    const text = await (await download.createReadStream()).toArray().then((chunks) => Buffer.concat(chunks).toString('utf8'));
    const rows = parseCsv(text);
    const header = rows[0];
    const mine = rows.find((r) => r[header.indexOf('user_email')] === email);
    assert.ok(mine, 'the feedback is in the CSV');
    assert.equal(mine[header.indexOf('rating')], 'down');
    assert.equal(mine[header.indexOf('question')], question);
    assert.equal(mine[header.indexOf('comment')], comment); // starts with a letter: no quote added
    assert.ok(mine[header.indexOf('answer')].length > 0);
  } finally {
    await admin.evaluate(() => fetch('/api/me/settings', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ language: 'en' }) }));
  }
  assert.deepEqual(admin.errors, []);
});

test('audit log shows an admin role change, in Korean', async (t) => {
  const page = await t.newPage({ locale: 'ko-KR' });
  await login(page);
  const setLanguage = (lang) => setUserLanguage(page, lang);
  await setLanguage('ko');
  const email = `audited-${Date.now()}@example.com`;
  const created = await page.evaluate(
    (e) => fetch('/api/admin/users', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: e }) }).then((r) => r.status),
    email,
  );
  assert.equal(created, 201);
  await page.goto('/admin/users');
  await page.getByRole('searchbox').fill(email);
  const role = page.getByLabel(`${email}의 역할`);
  await role.selectOption('admin');
  await page.waitForFunction((e) => document.querySelector(`select[aria-label="${e}의 역할"]`)?.value === 'admin', email);
  await page.getByRole('link', { name: '감사 로그' }).click();
  await page.getByRole('heading', { name: '감사 로그' }).waitFor();
  const row = page.locator('tr', { hasText: email }).filter({ hasText: '역할 변경' });
  await row.waitFor();
  const changes = (await row.innerText()).replace(/\s+/g, ' ');
  assert.match(changes, /role: user → admin/);
  assert.match(changes, /user\.role/);
  await page.locator('tr', { hasText: email }).filter({ hasText: '사용자 생성' }).waitFor();
  // The action filter narrows the list to the chosen kind.
  await page.getByLabel('작업').selectOption('engine');
  // Earlier tests' switches may have left engine rows: wait for the new user's rows to go.
  await page.waitForFunction((e) => ![...document.querySelectorAll('tr')].some((tr) => tr.textContent.includes(e)), email);
  await page.getByText('조건에 맞는 기록이 없습니다.').or(page.locator('tr', { hasText: 'engine.' }).first()).waitFor();
  await page.getByLabel('작업').selectOption('');
  await row.waitFor();
  await t.screenshot('admin-audit-ko', page);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'CSV 다운로드' }).click()]);
  const text = await (await download.createReadStream()).toArray().then((chunks) => Buffer.concat(chunks).toString('utf8'));
  const rows = parseCsv(text);
  assert.equal(rows[0].join(','), 'created,actor_id,actor_email,action,target_type,target_id,target_name,before,after,request_id,client_ip');
  assert.ok(rows.some((r) => r[3] === 'user.role' && r[6] === email && r[8] === '{"role": "admin"}'));
  await setLanguage('en');
  assert.deepEqual(page.errors, []);
});

/** RFC 4180: quoted fields, doubled quotes, CRLF or LF rows. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field || row.length) rows.push([...row, field]);
  return rows;
}

console.log(`gpuchat browser tests against ${BASE}`);
await run();
