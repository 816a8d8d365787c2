// Shared test helpers: the base URL and admin token from global-setup.ts,
// signing in, screenshots and API calls.
import { test as base, expect, type APIRequestContext, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const test = base.extend({
  // global-setup.ts sets this after the config was read.
  baseURL: async ({}, use) => {
    await use(process.env.E2E_BASE_URL);
  },
});
export { expect };

export const adminToken = (): string => process.env.E2E_ADMIN_TOKEN ?? '';
export const admin = (): Record<string, string> => ({ Authorization: 'Bearer ' + adminToken() });

/** Signs in through the form: with the admin token, or a user name and password. */
export async function signIn(page: Page, user = '', secret = adminToken(), base = ''): Promise<void> {
  await page.goto(base + '/ui/login');
  if (user) await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password or token').fill(secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('link', { name: 'Overview' })).toBeVisible();
}

/** Runs axe-core on the page as it is and expects no violation (WCAG 2.x A/AA and best practices). */
export async function accessible(page: Page, what: string): Promise<void> {
  const r = await new AxeBuilder({ page }).analyze();
  const found = r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
  expect(found, `accessibility violations on ${what} (${page.url()})`).toEqual([]);
}

/** Checks the screen with axe, then saves a full-page screenshot under test-results/screens. */
export async function screen(page: Page, name: string): Promise<void> {
  await accessible(page, name);
  const dir = path.join(__dirname, '..', 'test-results', 'screens');
  fs.mkdirSync(dir, { recursive: true });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(dir, name + '.png'), fullPage: true });
}

/** Fetches an artifact through /api and returns its source header. */
export async function fetchArtifact(request: APIRequestContext, remote: string, p: string): Promise<string> {
  const r = await request.get(`/api/${remote}/${p}`);
  expect(r.status(), `GET /api/${remote}/${p}`).toBe(200);
  await r.body();
  return r.headers()['x-artifact-source'] ?? '';
}

/** Waits until remote's listing holds p (the commit follows the response). */
export async function committed(request: APIRequestContext, remote: string, p: string): Promise<void> {
  await expect.poll(async () => (await listed(request, remote, p)).includes(p), { message: `${remote}/${p} committed` }).toBe(true);
}

/** Caches p through /api (a miss) and waits for its commit. */
export async function cache(request: APIRequestContext, remote: string, p: string): Promise<void> {
  expect(await fetchArtifact(request, remote, p)).toBe('remote');
  await committed(request, remote, p);
}

/** The paths the listing API holds for remote (every page). */
export async function listed(request: APIRequestContext, remote: string, q = ''): Promise<string[]> {
  const r = await request.get(`/artifacts/${remote}?limit=1000&q=${encodeURIComponent(q)}`);
  expect(r.status()).toBe(200);
  const j = await r.json();
  return j.items.map((i: { path: string }) => i.path);
}
