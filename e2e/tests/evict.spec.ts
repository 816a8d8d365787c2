import { test, expect, signIn, screen, fetchArtifact, listed, cache, committed } from '../lib/fixtures';

const keep = ['files/keep/a-4.bin', 'files/keep/b-6.bin'];
const groupA = ['files/grp-a/x-3.bin', 'files/grp-a/y-5.bin', 'files/grp-a/z-7.bin'];
const single = 'files/single/one-2.bin';

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ request }) => {
  for (const p of [...keep, ...groupA, single]) await cache(request, 'evictions', p);
  expect(await fetchArtifact(request, 'evictions', single)).toBe('cache');
});

test('evicting one artifact asks for confirmation, removes its row and the cached copy', async ({ page, request }) => {
  await signIn(page);
  await page.goto('/ui/remotes/evictions');
  await expect(page.locator('#artifacts tr[data-path]')).toHaveCount(6);

  // Dismissing the confirmation keeps it.
  page.once('dialog', (d) => d.dismiss());
  await page.getByRole('button', { name: `Evict ${single}` }).click();
  await expect(page.locator(`tr[data-path="${single}"]`)).toHaveCount(1);
  expect(await listed(request, 'evictions')).toContain(single);

  let message = '';
  page.once('dialog', (d) => {
    message = d.message();
    return d.accept();
  });
  await page.getByRole('button', { name: `Evict ${single}` }).click();
  await expect(page.locator(`tr[data-path="${single}"]`)).toHaveCount(0);
  expect(message).toContain(single);
  await expect(page.locator('#flash')).toContainText(`Evicted ${single}`);
  await expect(page.getByTestId('total-count')).toHaveText('5');
  await screen(page, '06-evicted-one');

  expect(await listed(request, 'evictions')).not.toContain(single);
  // The next request goes upstream again.
  expect(await fetchArtifact(request, 'evictions', single)).toBe('remote');
  await committed(request, 'evictions', single);
});

test('bulk eviction shows the count first, then evicts exactly the matching artifacts', async ({ page, request }) => {
  await signIn(page);
  await page.goto('/ui/remotes/evictions');
  await page.getByLabel('Path contains').fill('grp-a');
  await page.getByRole('button', { name: 'Count matching' }).click();
  await expect(page.getByTestId('bulk-count')).toHaveText('3');
  // Nothing evicted yet: this was a dry run.
  expect((await listed(request, 'evictions', 'grp-a')).length).toBe(3);
  await screen(page, '07-bulk-confirm');

  await page.getByRole('button', { name: 'Evict 3 artifacts' }).click();
  await expect(page.locator('#bulk-result')).toContainText('Evicted 3 artifacts');
  // The listing refreshes on its own.
  await expect(page.locator('#artifacts tr[data-path]')).toHaveCount(3);
  await expect(page.getByTestId('total-count')).toHaveText('3');

  expect(await listed(request, 'evictions', 'grp-a')).toEqual([]);
  expect(new Set(await listed(request, 'evictions'))).toEqual(new Set([...keep, single]));
  for (const p of groupA) await cache(request, 'evictions', p);
  for (const p of keep) expect(await fetchArtifact(request, 'evictions', p)).toBe('cache');
});

test('a bulk count with no match says so and offers nothing to confirm', async ({ page }) => {
  await signIn(page);
  await page.goto('/ui/remotes/evictions');
  await page.getByLabel('Path contains').fill('matches-nothing');
  await page.getByRole('button', { name: 'Count matching' }).click();
  await expect(page.locator('#bulk-result')).toContainText('No artifact in evictions whose path contains');
  await expect(page.locator('#bulk-result button')).toHaveCount(0);
});
