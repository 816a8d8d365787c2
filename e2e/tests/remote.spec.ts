import { test, expect, signIn, screen, fetchArtifact, cache } from '../lib/fixtures';
import { content, sha256, sizeOf } from '../lib/origin';

// Twelve artifacts of different sizes in two directories, plus one mutable file.
const linux = [3, 17, 8, 25, 1, 12, 30].map((n) => `files/linux/tool-${n}.bin`);
const darwin = [5, 21, 9, 14, 2].map((n) => `files/darwin/tool-${n}.bin`);
const all = [...linux, ...darwin];

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ request }) => {
  for (const p of all) await cache(request, 'catalog', p);
  await cache(request, 'catalog', 'files/index.json');
  // The second request is served from the cache (counted in the hit ratio).
  expect(await fetchArtifact(request, 'catalog', linux[0])).toBe('cache');
});

const rows = (page: import('@playwright/test').Page) => page.locator('#artifacts tr[data-path]');
const paths = async (page: import('@playwright/test').Page) => rows(page).evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.path));

test('the overview lists every repository with its numbers', async ({ page }) => {
  await signIn(page);
  const table = page.locator('#remotes-table');
  for (const name of ['catalog', 'evictions', 'batch', 'secured', 'uploads']) {
    await expect(table.locator(`tr[data-remote="${name}"]`)).toBeVisible();
  }
  const catalog = table.locator('tr[data-remote="catalog"]');
  await expect(catalog.locator('[data-col="count"]')).toHaveText('13');
  await expect(catalog.locator('.activity-list li')).toHaveCount(5);
  await expect(page.getByRole('heading', { name: 'Recently cached' })).toBeVisible();
  await screen(page, '03-overview');
});

test('artifacts cached through /api appear on their repository page with details', async ({ page }) => {
  await signIn(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /catalog/ }).click();
  await expect(page.getByRole('heading', { name: /catalog/ })).toBeVisible();
  await expect(rows(page)).toHaveCount(13);
  expect(new Set(await paths(page))).toEqual(new Set([...all, 'files/index.json']));
  await expect(page.locator('tr[data-path="files/index.json"] .badge')).toHaveText('mutable');
  await expect(page.locator(`tr[data-path="${linux[0]}"] .badge`)).toHaveText('immutable');

  const group = page.locator('tbody.artifact', { has: page.locator(`tr[data-path="${darwin[1]}"]`) });
  await expect(group.getByTestId('sha256')).toBeHidden();
  await group.getByRole('button', { name: `Details of ${darwin[1]}` }).click();
  const expected = sha256(content(darwin[1], sizeOf(darwin[1])));
  await expect(group.getByTestId('sha256')).toHaveText(expected);
  await expect(group.locator('[data-col="size"]')).toHaveAttribute('data-bytes', String(sizeOf(darwin[1])));
  await screen(page, '04-remote');
  await page.setViewportSize({ width: 1024, height: 768 });
  // Readable at 1024 px: nothing scrolls sideways.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1024);
  const wrap = page.locator('#artifacts .table-wrap');
  expect(await wrap.evaluate((e) => e.scrollWidth - e.clientWidth)).toBeLessThanOrEqual(0);
  await screen(page, '04-remote-1024px');
});

test('search filters without reloading and keeps the URL', async ({ page }) => {
  await signIn(page);
  await page.goto('/ui/remotes/catalog');
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
  await page.getByLabel('Search paths').fill('darwin');
  await expect(rows(page)).toHaveCount(5);
  expect((await paths(page)).every((p) => p?.includes('darwin'))).toBe(true);
  await expect(page).toHaveURL(/q=darwin/);
  await expect(page.getByTestId('pager-info')).toContainText('5 matching');
  expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(1);
  await page.getByLabel('Search paths').fill('no-such-thing');
  await expect(page.locator('#artifacts')).toContainText('No artifact path contains');
});

test('sorting by size, both ways, from the toolbar and the column header', async ({ page }) => {
  await signIn(page);
  await page.goto('/ui/remotes/catalog');
  const sizes = async () => page.locator('#artifacts tbody [data-col="size"]').evaluateAll((tds) => tds.map((td) => Number((td as HTMLElement).dataset.bytes)));
  await page.getByLabel('Sort by').selectOption('size');
  await page.getByLabel('Order').selectOption('desc');
  await expect(page).toHaveURL(/sort=size.*order=desc|order=desc.*sort=size/);
  await expect.poll(sizes).toEqual([...(await sizes())].sort((a, b) => b - a));
  const desc = await sizes();
  expect(desc[0]).toBe(sizeOf('tool-30.bin'));

  await page.getByRole('columnheader', { name: 'Size' }).getByRole('link').click();
  await expect(page.getByRole('columnheader', { name: 'Size' })).toHaveAttribute('aria-sort', 'ascending');
  await expect(page.getByLabel('Order')).toHaveValue('asc');
  await expect.poll(sizes).toEqual([...desc].sort((a, b) => a - b));
});

test('paging with a cursor: next, previous, no repeats', async ({ page }) => {
  await signIn(page);
  await page.goto('/ui/remotes/catalog');
  await page.getByLabel('Per page').selectOption('10');
  await expect(rows(page)).toHaveCount(10);
  const first = await paths(page);
  await page.getByRole('link', { name: 'Next' }).click();
  await expect(page.getByTestId('pager-info')).toContainText('Page 2');
  await expect(rows(page)).toHaveCount(3);
  const second = await paths(page);
  expect(new Set([...first, ...second]).size).toBe(13);
  await expect(page.getByRole('link', { name: 'Next' })).toHaveCount(0);
  await screen(page, '05-remote-page-2');
  await page.getByRole('link', { name: 'Previous' }).click();
  await expect(page.getByTestId('pager-info')).toContainText('Page 1');
  expect(await paths(page)).toEqual(first);
  // The URL holds the state: reloading shows the same page.
  await page.getByRole('link', { name: 'Next' }).click();
  await expect(page.getByTestId('pager-info')).toContainText('Page 2');
  await page.reload();
  expect(await paths(page)).toEqual(second);
});

test('the listing reads without JavaScript', async ({ browser, baseURL }) => {
  const ctx = await browser.newContext({ javaScriptEnabled: false, baseURL });
  const page = await ctx.newPage();
  await signIn(page);
  await page.goto('/ui/remotes/catalog?q=darwin');
  await expect(rows(page)).toHaveCount(5);
  // A row's details are its own page.
  await page.getByRole('link', { name: `Details of ${darwin[1]}` }).click();
  await expect(page.getByTestId('sha256')).toHaveText(sha256(content(darwin[1], sizeOf(darwin[1]))));
  await page.goBack();
  await page.getByLabel('Search paths').fill('linux');
  await page.getByRole('button', { name: 'Apply' }).click();
  await expect(rows(page)).toHaveCount(7);
  await expect(page).toHaveURL(/q=linux/);
  await ctx.close();
});
