// Browser end-to-end tests against a running gateway with the fake upstream
// (scripts/frontend.sh e2e starts both). Run one test: node tests/e2e/run.mjs <words>.
import assert from 'node:assert/strict';
import { ADMIN, BASE, run, test } from './harness.mjs';

// ---- helpers --------------------------------------------------------------------------

async function login(page, { email = ADMIN.email, password = ADMIN.password } = {}) {
  await page.goto('/');
  await page.locator('input[type=email]').fill(email);
  await page.locator('input[type=password]').fill(password);
  await page.locator('form button[type=submit]').click();
  await page.locator('textarea[aria-label]').first().waitFor();
}

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
  await page.getByRole('button', { name: '저장' }).click();
  await page.getByTestId('definition-e2e-clone').waitFor();
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
    for (const section of ['models', 'live', 'usage', 'users']) {
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
