// Shared helpers of the browser tests: Chromium from the system (Playwright never downloads
// one), the CRM's address from `cargo xtask test`, sign-in through the form, screenshots kept
// as artifacts, and a small JSON client for setting up data through the REST API.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = process.env.TESSERA_URL ?? 'http://127.0.0.1:8080';
export const PASSWORD = process.env.TESSERA_DEMO_PASSWORD ?? 'tessera-demo-2026';
const ARTIFACTS = process.env.TESSERA_ARTIFACTS ?? 'artifacts';

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    // Root in a container has no user namespaces for Chromium's sandbox.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

/** A browser context as a person in `locale` would have it, on a desktop or a phone. */
export async function person(browser, { locale = 'zh-CN', phone = false } = {}) {
  const context = await browser.newContext({
    baseURL: BASE,
    locale,
    extraHTTPHeaders: { 'Accept-Language': locale },
    viewport: phone ? { width: 390, height: 844 } : { width: 1280, height: 900 },
    isMobile: phone,
    hasTouch: phone,
  });
  const errors = [];
  context.on('weberror', (e) => errors.push(String(e.error())));
  context.on('console', (m) => {
    // A Content-Security-Policy violation is a console error: the page tried inline code.
    if (m.type() === 'error') errors.push(`${m.text()} at ${m.location().url}`);
  });
  const page = await context.newPage();
  return { context, page, errors };
}

export async function signIn(page, username, password = PASSWORD) {
  await page.goto('/sign-in');
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
  await Promise.all([page.waitForURL((url) => !url.pathname.startsWith('/sign-in')), page.locator('form button[type=submit]').click()]);
}

export async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** The REST API as one user: a session cookie and its CSRF token. */
export async function api(username, password = PASSWORD) {
  const res = await fetch(`${BASE}/api/v1/auth/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw new Error(`API sign-in of ${username}: ${res.status} ${await res.text()}`);
  const cookie = res.headers.get('set-cookie').split(';')[0];
  const { csrf_token: csrf, user } = await res.json();
  const call = async (method, path, body) => {
    const r = await fetch(`${BASE}${path}`, {
      method,
      headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    const json = text ? JSON.parse(text) : null;
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return json;
  };
  return {
    user,
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body ?? {}),
    patch: (path, body) => call('PATCH', path, body),
    put: (path, body) => call('PUT', path, body),
  };
}

/** Texts of the page's own words (navigation, headings, labels, buttons, table heads), without
 *  the user's data, for checking that every one is translated. */
export async function chromeTexts(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('nav a, h1, h2, h3, label, legend, th, button, option, .notice, .muted, .help')]
      .filter((e) => !e.closest('[lang]:not(html)') && !e.closest('.plugin-panel') && !e.closest('td'))
      .map((e) => e.textContent.replace(/\s+/g, ' ').trim())
      .filter((t) => t.length > 0),
  );
}
