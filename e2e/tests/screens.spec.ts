// Every screen at a phone's size (390×844) and a desktop's (1440×900): no
// accessibility violation (axe-core), nothing wider than the window, and a
// screenshot of each under test-results/screens/<viewport>/ (not committed).
import { test, expect, signIn, accessible, admin, cache } from '../lib/fixtures';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from '@playwright/test';

const viewports = [
  { name: 'phone', width: 390, height: 844 },
  { name: 'desktop', width: 1440, height: 900 },
];

const artifact = 'files/screens/tool-3.bin';
let jobID = '';

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ request }) => {
  await cache(request, 'batch', artifact);
  const r = await request.post('/cache-artifact', { headers: { ...admin(), 'Content-Type': 'application/json' },
    data: { remote: 'batch', paths: ['files/screens/tool-4.bin', 'files/screens/missing-5.bin'] } });
  expect(r.status()).toBe(202);
  jobID = (await r.json()).id;
  const up = await request.put('/api/drop-a/screens/readme.txt', { headers: admin(), data: 'a file uploaded for the screenshots\n' });
  expect([201, 409]).toContain(up.status());
});

/** The screens, each with the element that shows it is ready. */
const screens = (): { name: string; url: string; ready: string }[] => [
  { name: 'overview', url: '/ui/', ready: '#remotes-table' },
  { name: 'remote', url: '/ui/remotes/batch', ready: '#artifacts tr[data-path]' },
  { name: 'artifact', url: '/ui/remotes/batch/artifact?path=' + encodeURIComponent(artifact), ready: '[data-testid="sha256"]' },
  { name: 'evict-confirm', url: '/ui/remotes/batch/evict?path=' + encodeURIComponent(artifact), ready: 'form[method="post"] button.btn-danger' },
  { name: 'images', url: '/ui/remotes/images', ready: 'main h1' },
  { name: 'config-tester', url: '/ui/config?remote=batch&path=' + encodeURIComponent(artifact), ready: '[data-testid="verdict"]' },
  { name: 'upload', url: '/ui/upload', ready: '#upload-form' },
  { name: 'jobs', url: '/ui/jobs', ready: '#job-form' },
  { name: 'job-detail', url: '/ui/jobs/' + jobID, ready: '#job-items' },
  { name: 'search', url: '/ui/search?q=screens', ready: '.search-group' },
  { name: 'users', url: '/ui/users', ready: 'main h1' },
  { name: 'tokens', url: '/ui/tokens', ready: 'main h1' },
  { name: 'audit', url: '/ui/audit', ready: '#audit-entries' },
  { name: 'error', url: '/ui/remotes/no-such-repository', ready: '[role=alert]' },
];

async function shoot(page: Page, viewport: string, name: string): Promise<void> {
  // Nothing is wider than the window: the layout reflows (tables scroll in their box).
  const overflow = await page.evaluate(() => {
    const wide: string[] = [];
    document.querySelectorAll('body *').forEach((e) => {
      const r = e.getBoundingClientRect();
      if (r.right > window.innerWidth + 1 && !e.closest('.table-wrap') && wide.length < 5) {
        wide.push(`${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${(e.getAttribute('class') ?? '').replace(/ /g, '.')} (${Math.round(r.right)} px)`);
      }
    });
    return { by: document.documentElement.scrollWidth - window.innerWidth, wide };
  });
  expect(overflow.by, `${name} at ${viewport} is wider than the window: ${overflow.wide.join(', ')}`).toBeLessThanOrEqual(0);
  await accessible(page, `${name} at ${viewport}`);
  const dir = path.join(__dirname, '..', 'test-results', 'screens', viewport);
  fs.mkdirSync(dir, { recursive: true });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(dir, name + '.png'), fullPage: true });
}

for (const vp of viewports) {
  test(`every screen at ${vp.name} size (${vp.width}×${vp.height}): accessible, reflowed, captured`, async ({ page, browser, baseURL }) => {
    test.setTimeout(180_000);
    // Signed out: the sign-in card fits.
    const ctx = await browser.newContext({ baseURL, viewport: { width: vp.width, height: vp.height } });
    const anon = await ctx.newPage();
    await anon.goto('/ui/login');
    await expect(anon.getByLabel('Password or token')).toBeVisible();
    await shoot(anon, vp.name, 'login');
    await ctx.close();

    await page.setViewportSize({ width: vp.width, height: vp.height });
    await signIn(page);
    for (const s of screens()) {
      await page.goto(s.url);
      await expect(page.locator(s.ready).first()).toBeVisible();
      await shoot(page, vp.name, s.name);
    }
    // A row's details, opened in place.
    await page.goto('/ui/remotes/batch?q=screens');
    await page.getByRole('button', { name: `Details of ${artifact}` }).click();
    await expect(page.getByTestId('sha256')).toBeVisible();
    await shoot(page, vp.name, 'remote-details');
  });
}
