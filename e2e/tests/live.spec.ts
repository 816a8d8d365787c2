// Live pages, search, and the small things: pages update without a reload
// and without moving the focus or the scroll; sort and paging keep the
// focus; the top bar searches every repository; single evictions confirm
// without JavaScript; forms start on the repository the operator came from.
import { test, expect, signIn, screen, cache, fetchArtifact, listed } from '../lib/fixtures';

test.describe.configure({ mode: 'serial' });

const base = ['files/live/a-2.bin', 'files/live/b-3.bin', 'files/live/c-4.bin'];
type Marked = { marker?: number };

test.beforeAll(async ({ request }) => {
  for (const p of base) await cache(request, 'batch', p);
});

test('the remote page shows new artifacts without a reload, keeping focus, scroll and open details', async ({ page, request }) => {
  test.setTimeout(90_000);
  await signIn(page);
  await page.setViewportSize({ width: 1280, height: 400 });
  await page.goto('/ui/remotes/batch?q=files/live/');
  await expect(page.locator('#artifacts tr[data-path]')).toHaveCount(3);
  await page.evaluate(() => ((window as unknown as Marked).marker = 1));
  // Open a row's details and leave the focus on its button, scrolled down a bit.
  const details = page.getByRole('button', { name: `Details of ${base[1]}` });
  await details.click();
  await expect(page.getByTestId('sha256')).toBeVisible();
  await page.evaluate(() => window.scrollTo(0, 120));
  const scrolled = await page.evaluate(() => window.scrollY);

  await cache(request, 'batch', 'files/live/d-5.bin');
  await expect(page.locator('tr[data-path="files/live/d-5.bin"]')).toBeVisible({ timeout: 30_000 });
  expect(await page.evaluate(() => (window as unknown as Marked).marker)).toBe(1);
  expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-labelledby') ?? '')).toMatch(/^d\d+ p\d+$/);
  expect(await page.evaluate(() => document.activeElement?.closest('tr')?.dataset.path)).toBe(base[1]);
  await expect(details).toHaveAttribute('aria-expanded', 'true');
  await expect(page.getByTestId('sha256')).toBeVisible();
  expect(await page.evaluate(() => window.scrollY)).toBe(scrolled);
  await expect(page.getByTestId('total-count')).not.toHaveText('');
});

test('the overview updates its numbers without a reload', async ({ page, request }) => {
  test.setTimeout(90_000);
  await signIn(page);
  const count = page.locator('#remotes-table tr[data-remote="batch"] [data-col="count"]');
  const before = Number((await count.textContent())?.replace(/,/g, ''));
  await page.evaluate(() => ((window as unknown as Marked).marker = 1));
  await cache(request, 'batch', 'files/live/e-6.bin');
  await expect(count).toHaveText(String(before + 1), { timeout: 30_000 });
  expect(await page.evaluate(() => (window as unknown as Marked).marker)).toBe(1);
});

test('sorting from a column header and paging keep the focus on the control used', async ({ page }) => {
  await signIn(page);
  await page.goto('/ui/remotes/batch?q=files/live/&limit=10');
  await page.getByRole('columnheader', { name: 'Size' }).getByRole('link').focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('columnheader', { name: 'Size' })).toHaveAttribute('aria-sort', 'descending');
  await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('sort-size');

  await page.goto('/ui/remotes/batch?q=files/live/&limit=2');
  const next = page.getByRole('link', { name: 'Next' });
  await next.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('pager-info')).toContainText('Page 2');
  await expect.poll(() => page.evaluate(() => document.activeElement?.closest('.pager') !== null)).toBe(true);
});

test('the top bar searches every repository by path and by digest, grouped by repository', async ({ page, request }) => {
  await signIn(page);
  await page.getByRole('searchbox', { name: 'Search all repositories' }).fill('files/live/');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\/ui\/search\?q=files%2Flive%2F/);
  const group = page.locator('.search-group[data-remote="batch"]');
  await expect(group.locator('tr[data-path]')).toHaveCount(5);
  await expect(page.locator('.search-group')).toHaveCount(1);

  const r = await request.get('/api/batch/' + base[0]);
  const sha = r.headers()['x-checksum-sha256'];
  await page.getByRole('searchbox', { name: 'Search for' }).fill('sha256:' + sha.slice(0, 12));
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(page.locator('.search-group tr[data-path]')).toHaveCount(1);
  await expect(page.locator(`.search-group[data-remote="batch"] tr[data-path="${base[0]}"]`)).toBeVisible();
  await screen(page, '30-search');
  await page.locator(`tr[data-path="${base[0]}"] a`).first().click();
  await expect(page.getByTestId('sha256')).toHaveText(sha);
});

test('evicting one artifact without JavaScript goes through a confirmation page', async ({ browser, baseURL, request }) => {
  const p = 'files/live/f-7.bin';
  await cache(request, 'batch', p);
  const ctx = await browser.newContext({ javaScriptEnabled: false, baseURL });
  const page = await ctx.newPage();
  await signIn(page);
  await page.goto('/ui/remotes/batch?q=files/live/');
  await page.getByRole('button', { name: `Evict ${p}` }).click();
  await expect(page).toHaveURL(/\/ui\/remotes\/batch\/evict\?path=/);
  await expect(page.getByRole('heading', { level: 1 })).toContainText(p);
  expect(await listed(request, 'batch', p)).toEqual([p]); // nothing evicted yet
  await page.getByRole('button', { name: 'Evict', exact: true }).click();
  await expect(page).toHaveURL(/\/ui\/remotes\/batch\?q=files(%2F|\/)live(%2F|\/)&evicted=/);
  await expect(page.getByRole('main')).toContainText(`Evicted ${p}.`);
  await expect(page.locator(`tr[data-path="${p}"]`)).toHaveCount(0);
  expect(await listed(request, 'batch', p)).toEqual([]);
  expect(await fetchArtifact(request, 'batch', p)).toBe('remote');
  await ctx.close();
});

test('the tester and the job form start on the repository the operator came from', async ({ page }) => {
  await signIn(page);
  await page.goto('/ui/remotes/batch');
  await page.getByRole('link', { name: 'Test a path' }).click();
  await expect(page.getByLabel('Repository', { exact: true })).toHaveValue('batch');
  await page.goto('/ui/remotes/batch');
  await page.getByRole('link', { name: 'Cache a batch' }).click();
  await expect(page.getByLabel('Repository', { exact: true })).toHaveValue('batch');
  // From the sidebar too: the form takes the repository of the page left.
  await page.goto('/ui/remotes/batch');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs', exact: true }).click();
  await expect(page.getByLabel('Repository', { exact: true })).toHaveValue('batch');
});

test('copy buttons copy the download URL and the sha256', async ({ page, context, baseURL }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseURL });
  await signIn(page);
  await page.goto('/ui/remotes/batch/artifact?path=' + encodeURIComponent(base[0]));
  await page.getByRole('button', { name: 'Copy download URL' }).click();
  await expect(page.getByRole('button', { name: 'Copy download URL' })).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`${baseURL}/api/batch/${base[0]}`);
  await page.getByRole('button', { name: 'Copy SHA-256' }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(await page.getByTestId('sha256').textContent());
});
