// A small browser-test harness over playwright-core and Debian's Chromium (no browser
// download, no test-runner dependency). Each test gets a fresh browser context, its own
// screenshot in the output folder; the run fails when one test fails.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = process.env.GPUCHAT_URL ?? 'http://127.0.0.1:8080';
export const ADMIN = {
  email: process.env.GPUCHAT_E2E_EMAIL ?? 'admin@example.com',
  password: process.env.GPUCHAT_E2E_PASSWORD ?? '',
};
export const OUT = process.env.GPUCHAT_E2E_OUT ?? new URL('../../test-results/e2e/', import.meta.url).pathname;

// Sign in through the login form and wait for the chat (the admin unless told otherwise).
export async function signIn(page, { email = ADMIN.email, password = ADMIN.password } = {}) {
  await page.goto('/');
  await page.locator('input[type=email]').fill(email);
  await page.locator('input[type=password]').fill(password);
  await page.locator('form button[type=submit]').click();
  await page.locator('textarea[aria-label]').first().waitFor();
}

// The signed-in user's language, set through the API the Settings page uses.
export const setLanguage = (page, language) =>
  page.evaluate((lang) => fetch('/api/me/settings', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ language: lang }) }), language);

const tests = [];
export function test(name, fn) {
  tests.push({ name, fn });
}

export async function run() {
  mkdirSync(OUT, { recursive: true });
  const only = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const counts = { passed: 0, failed: 0 };
  try {
    for (const t of tests) {
      if (only.length && !only.some((word) => t.name.includes(word))) continue;
      const started = Date.now();
      const ctx = new TestContext(browser, t.name);
      try {
        await t.fn(ctx);
        counts.passed++;
        console.log(`  ok    ${t.name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      } catch (error) {
        counts.failed++;
        console.log(`  FAIL  ${t.name}\n${indent(error?.stack ?? String(error))}`);
        await ctx.screenshot('failure').catch(() => undefined);
      } finally {
        await ctx.close();
      }
    }
  } finally {
    await browser.close();
  }
  console.log(`\nscreenshots: ${OUT}`);
  console.log(`${counts.passed} passed, ${counts.failed} failed`);
  process.exitCode = counts.failed ? 1 : 0;
}

class TestContext {
  constructor(browser, name) {
    this.browser = browser;
    this.name = name;
    this.slug = name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();
    this.contexts = [];
    this.page = null;
    this.shots = 0;
  }

  /** A new signed-out page (own cookies), English unless told. */
  async newPage({ locale = 'en-US', viewport = { width: 1280, height: 800 }, colorScheme = 'light' } = {}) {
    const context = await this.browser.newContext({ locale, viewport, colorScheme, baseURL: BASE, acceptDownloads: true });
    this.contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    page.errors = [];
    page.on('pageerror', (error) => page.errors.push(error));
    page.on('console', (message) => {
      // The first GET /api/me of a signed-out page answers 401 by design.
      if (message.type() === 'error' && !/status of 401/.test(message.text())) page.errors.push(new Error(message.text()));
    });
    this.page ??= page;
    return page;
  }

  async screenshot(label = 'final', page = this.page) {
    if (!page) return null;
    const path = join(OUT, `${this.slug}${label === 'final' ? '' : `-${label}`}.png`);
    await page.screenshot({ path });
    return path;
  }

  async close() {
    if (this.page) await this.screenshot().catch(() => undefined);
    for (const context of this.contexts) await context.close().catch(() => undefined);
  }
}

function indent(text) {
  return text
    .split('\n')
    .slice(0, 12)
    .map((line) => `        ${line}`)
    .join('\n');
}
