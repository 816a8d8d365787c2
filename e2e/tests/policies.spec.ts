import { test, expect, signIn, screen, listed, cache } from '../lib/fixtures';
import { sizeOf } from '../lib/origin';

// Generated files are "…-<n>.bin": n KiB plus n bytes.
const big = ['files/old/a-64.bin', 'files/old/c-96.bin'];
const small = 'files/old/b-8.bin';
const other = 'files/keep/d-64.bin';

test.beforeAll(async ({ request }) => {
  for (const p of [...big, small, other]) await cache(request, 'cleanup', p);
});

test('a cleanup policy made in the dashboard previews, runs, evicts and records its run', async ({ page, request }) => {
  await signIn(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Cleanup policies' }).click();
  await expect(page.getByRole('heading', { name: 'Cleanup policies', exact: true })).toBeVisible();

  await page.getByLabel('Name').fill('old and large');
  await page.getByLabel('Repository').selectOption('cleanup');
  await page.getByLabel('Path contains').fill('old/');
  await page.getByLabel(/Larger than/).fill('32KiB');
  await page.getByRole('button', { name: 'Preview' }).click();

  // The preview lists exactly the large files under old/, with the totals.
  const totals = page.getByTestId('preview-totals');
  await expect(totals).toHaveAttribute('data-count', '2');
  const wantBytes = big.map(sizeOf).reduce((a, b) => a + b, 0);
  await expect(totals).toHaveAttribute('data-bytes', String(wantBytes));
  await expect(totals).toContainText('2 artifacts match');
  const rows = page.locator('#preview-table tbody tr');
  expect(await rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.path))).toEqual(big);
  // Nothing was evicted by the preview.
  expect(new Set(await listed(request, 'cleanup'))).toEqual(new Set([...big, small, other]));
  await screen(page, '40-policy-preview');

  await page.getByRole('button', { name: 'Save policy' }).click();
  await expect(page).toHaveURL(/\/ui\/policies\/\d+$/);
  await expect(page.getByRole('heading', { name: 'old and large' })).toBeVisible();
  await expect(page.locator('#policy-runs')).toHaveCount(0);

  await page.getByRole('button', { name: 'Run now' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Evicted 2 of 2' })).toBeVisible();
  const run = page.locator('#policy-runs tbody tr').first();
  await expect(run.locator('[data-col=matched]')).toHaveAttribute('data-value', '2');
  await expect(run.locator('[data-col=evicted]')).toHaveAttribute('data-value', '2');
  await expect(run.locator('[data-col=bytes]')).toHaveAttribute('data-value', String(wantBytes));
  await expect(run.locator('[data-col=errors]')).toHaveAttribute('data-value', '0');
  await expect(run).toHaveAttribute('data-by', 'dashboard');
  await screen(page, '41-policy-run');

  // The artifacts are gone from the repository's page; the others stay.
  await page.goto('/ui/remotes/cleanup');
  for (const p of big) await expect(page.locator(`#artifacts tr[data-path="${p}"]`)).toHaveCount(0);
  for (const p of [small, other]) await expect(page.locator(`#artifacts tr[data-path="${p}"]`)).toHaveCount(1);
  expect(new Set(await listed(request, 'cleanup'))).toEqual(new Set([small, other]));

  // The list shows the policy with its last run.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Cleanup policies' }).click();
  const listRow = page.locator('#policy-list tr[data-policy="old and large"]');
  await expect(listRow).toContainText('cleanup');
  await expect(listRow).toContainText('2 evicted');
});

test('a refused policy is explained and kept in the form', async ({ page }) => {
  await signIn(page);
  await page.goto('/ui/policies');
  await page.getByLabel('Name').fill('bad one');
  await page.getByLabel('Path contains').fill('(unclosed');
  await page.getByLabel('The path filter is a regular expression').check();
  await page.getByLabel(/Run every/).fill('daily');
  await page.getByRole('button', { name: 'Save policy' }).click();
  const alert = page.locator('#policy-form [role=alert]');
  await expect(alert).toContainText('regular expression');
  await expect(alert).toContainText('"daily"');
  await expect(page.getByLabel('Path contains')).toHaveValue('(unclosed');
  await expect(page.locator('#policy-list tr[data-policy="bad one"]')).toHaveCount(0);
});

test('the quota of a repository is shown as a usage bar on its page and the overview', async ({ page, request }) => {
  await signIn(page);
  const stored = (await listed(request, 'cleanup')).length;
  expect(stored).toBeGreaterThan(0);
  await page.goto('/ui/remotes/cleanup');
  const bar = page.locator('#remote-stats').getByTestId('quota');
  await expect(bar).toHaveAttribute('data-max', String(1024 * 1024));
  const used = Number(await bar.getAttribute('data-used'));
  expect(used).toBeGreaterThan(0);
  await expect(bar).toContainText('of 1.0 MiB');
  await page.goto('/ui/');
  const row = page.locator('#remotes-table tr[data-remote="cleanup"]');
  await expect(row.getByTestId('quota')).toHaveAttribute('data-used', String(used));
  // A repository without max_size has no bar.
  await expect(page.locator('#remotes-table tr[data-remote="catalog"]').getByTestId('quota')).toHaveCount(0);
  await screen(page, '42-quota-overview');
});
