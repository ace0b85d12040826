// The README's first screenshot (scripts/screenshots.sh starts the gateway on the real
// packaged model): sign in, Korean UI, a short Korean question, the whole answer on screen.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.GPUCHAT_URL;
const OUT = process.env.GPUCHAT_SHOT_OUT;
const QUESTION = process.env.GPUCHAT_SHOT_QUESTION ?? '파이썬에서 리스트를 뒤집는 방법은?';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const context = await browser.newContext({ locale: 'ko-KR', viewport: { width: 1280, height: 800 }, baseURL: BASE });
  const page = await context.newPage();
  page.setDefaultTimeout(30000);
  await page.goto('/');
  await page.locator('input[type=email]').fill(process.env.GPUCHAT_E2E_EMAIL);
  await page.locator('input[type=password]').fill(process.env.GPUCHAT_E2E_PASSWORD);
  await page.locator('form button[type=submit]').click();
  await page.locator('textarea[aria-label]').first().waitFor();
  // A short answer at a low temperature: a 0.5B model on a CPU stays on topic (chat settings).
  await page.evaluate(() =>
    fetch('/api/me/settings', {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ language: 'ko', temperature: 0.2, max_tokens: 200 }),
    }),
  );
  await page.reload();
  const composer = page.locator('main form textarea').last();
  await composer.fill(QUESTION);
  await composer.press('Enter');
  try {
    await page.waitForFunction(
      () => document.querySelector('li[data-role=assistant]')?.dataset.status === 'complete',
      null,
      { timeout: 300000 },
    );
  } catch (error) {
    const failure = join(tmpdir(), 'gpuchat-shot-failure.png');
    await page.screenshot({ path: failure });
    console.error(`no complete answer in time; the page then: ${failure}`);
    throw error;
  }
  // The stream has ended (the stop button is the send button again), the title is in.
  await page.locator('main form button[aria-label="중지"]').waitFor({ state: 'detached', timeout: 120000 });
  await page.waitForTimeout(3000);
  console.log(await page.locator('li[data-role=assistant]').innerText());
  await page.screenshot({ path: OUT });
  console.log(`wrote ${OUT}`);
} finally {
  await browser.close();
}
