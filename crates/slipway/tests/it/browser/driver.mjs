// The browser of the end-to-end tests: headless Chromium driven with playwright-core.
//
// Usage: node driver.mjs NODE_PREFIX CHROMIUM
//   NODE_PREFIX  the directory whose node_modules holds playwright-core (`npm install --prefix`)
//   CHROMIUM     the browser's executable
// It reads one JSON command per line on standard input and answers each with one JSON line on
// standard output: {"ok": true, ...} or {"ok": false, "error": "..."}. The Rust side
// (tests/it/browser.rs) writes the commands; a test reads like what a person does.
//   {"op": "goto", "url": U}               → {"url", "status"}
//   {"op": "fill", "selector": S, "value": V}
//   {"op": "click", "selector": S}          clicks and waits for the page it leads to
//   {"op": "text", "selector": S}           → {"text"} (waits for S to appear)
//   {"op": "count", "selector": S}          → {"count"} (does not wait)
//   {"op": "url"}                           → {"url"}
//   {"op": "screenshot", "path": P}
// Selectors are Playwright's: CSS, `text=…`, `role=button[name="…"]`.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const [prefix, executablePath] = process.argv.slice(2);
const require = createRequire(join(prefix, 'package.json'));
const { chromium } = require('playwright-core');

// Every step of a test is quick; a step that takes longer has failed.
const TIMEOUT_MS = 10_000;

const profile = mkdtempSync(join(tmpdir(), 'slipway-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1200, height: 800 },
});
context.setDefaultTimeout(TIMEOUT_MS);
const page = context.pages()[0] ?? await context.newPage();

const steps = {
  async goto({ url }) {
    const response = await page.goto(url);
    return { url: page.url(), status: response ? response.status() : null };
  },
  async fill({ selector, value }) {
    await page.locator(selector).fill(value);
    return {};
  },
  async click({ selector }) {
    const navigated = page.waitForEvent('framenavigated', { timeout: TIMEOUT_MS });
    await page.locator(selector).click();
    await navigated;
    await page.waitForLoadState('load');
    return { url: page.url() };
  },
  async text({ selector }) {
    return { text: (await page.locator(selector).first().textContent()).trim() };
  },
  async count({ selector }) {
    return { count: await page.locator(selector).count() };
  },
  async url() {
    return { url: page.url() };
  },
  async screenshot({ path }) {
    await page.screenshot({ path, fullPage: true });
    return {};
  },
};

const lines = createInterface({ input: process.stdin });
try {
  for await (const line of lines) {
    let answer;
    try {
      const command = JSON.parse(line);
      const step = steps[command.op];
      if (!step) throw new Error(`unknown op ${command.op}`);
      answer = { ok: true, ...(await step(command)) };
    } catch (err) {
      answer = { ok: false, error: String(err && err.message || err) };
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
