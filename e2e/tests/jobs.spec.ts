import { test, expect, signIn, screen, listed, fetchArtifact } from '../lib/fixtures';

test('a job started from the form runs to completion with live progress', async ({ page, request }) => {
  test.setTimeout(120_000);
  await signIn(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Jobs', exact: true })).toBeVisible();
  await screen(page, '10-jobs');

  const slow = ['slow/a-40.bin', 'slow/b-48.bin', 'slow/c-56.bin'];
  await page.getByLabel('Repository', { exact: true }).selectOption('batch');
  await page.getByLabel(/Paths, one per line/).fill([...slow, 'files/missing-1.bin', 'docs/not-allowed.txt'].join('\n'));
  await page.getByRole('button', { name: 'Start job' }).click();
  await expect(page).toHaveURL(/\/ui\/jobs\/[0-9a-f-]{36}$/);
  const jobURL = page.url();
  // Marks this document: if the page reloaded, the mark would be gone.
  await page.evaluate(() => ((window as unknown as { mark: string }).mark = 'same-document'));

  const items = page.locator('#job-items tbody tr');
  await expect(items).toHaveCount(5);
  const states = () => items.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.state ?? ''));
  const seen = new Set<string>();
  const timeline: string[] = [];
  let shot = false;
  await expect.poll(async () => {
    const s = await states();
    timeline.push(s.join(','));
    s.forEach((x) => seen.add(x));
    if (!shot && s.includes('running') && s.includes('cached')) {
      shot = true;
      await screen(page, '11-job-running');
    }
    return await page.getByTestId('job-state').textContent();
  }, { timeout: 90_000, intervals: [200] }).toBe('done');
  await screen(page, '12-job-done');

  // The states changed in place, without a reload, through pending ones.
  expect(await page.evaluate(() => (window as unknown as { mark: string }).mark)).toBe('same-document');
  expect(page.url()).toBe(jobURL);
  expect(seen.has('queued') || seen.has('running')).toBe(true);
  expect(new Set(timeline).size).toBeGreaterThan(2);
  // Polling stops once the job is done.
  await expect(page.locator('#job')).not.toHaveAttribute('hx-trigger', /.+/);

  const row = (p: string) => page.locator('#job-items tbody tr', { hasText: p });
  for (const p of slow) await expect(row(p)).toHaveAttribute('data-state', 'cached');
  await expect(row('files/missing-1.bin')).toHaveAttribute('data-state', 'failed');
  await expect(row('files/missing-1.bin')).toContainText(/404|not found/i);
  await expect(row('docs/not-allowed.txt')).toHaveAttribute('data-state', 'denied');

  // The artifacts are in the cache.
  expect(new Set(await listed(request, 'batch', 'slow/'))).toEqual(new Set(slow));
  expect(await fetchArtifact(request, 'batch', slow[0])).toBe('cache');

  // And the job is listed as done.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs', exact: true }).click();
  const listRow = page.locator('#job-list tbody tr').first();
  await expect(listRow).toContainText('done');
  await expect(listRow).toContainText('3 cached');
  await screen(page, '13-jobs-list');
});

test('a refused job is explained in the form', async ({ page }) => {
  await signIn(page);
  await page.goto('/ui/jobs');
  await page.getByLabel('Repository', { exact: true }).selectOption('batch');
  await page.getByLabel(/Paths, one per line/).fill('files/../../etc/passwd');
  await page.getByRole('button', { name: 'Start job' }).click();
  await expect(page.locator('#job-form [role=alert]')).toContainText("'..' segment not allowed");
  await expect(page.getByLabel(/Paths, one per line/)).toHaveValue('files/../../etc/passwd');
  await expect(page).toHaveURL(/\/ui\/jobs$/);
});

test('canceling a running job ends its queued items and lets the running one finish', async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page);
  await page.goto('/ui/jobs');
  const paths = ['slow/cancel-a-24.bin', 'slow/cancel-b-24.bin', 'slow/cancel-c-24.bin', 'slow/cancel-d-24.bin'];
  await page.getByLabel('Repository', { exact: true }).selectOption('batch');
  await page.getByLabel(/Paths, one per line/).fill(paths.join('\n'));
  await page.getByRole('button', { name: 'Start job' }).click();
  await expect(page).toHaveURL(/\/ui\/jobs\/[0-9a-f-]{36}$/);

  const row = (p: string) => page.locator('#job-items tbody tr', { hasText: p });
  // One item at a time per repository: the first downloads, the rest wait.
  await expect(row(paths[0])).toHaveAttribute('data-state', 'running', { timeout: 60_000 });
  await page.getByRole('button', { name: 'Cancel queued items' }).click();

  await expect(page.getByTestId('job-state')).toHaveText('done', { timeout: 30_000 });
  await expect(row(paths[0])).toHaveAttribute('data-state', 'cached');
  for (const p of paths.slice(1)) {
    await expect(row(p)).toHaveAttribute('data-state', 'canceled');
    await expect(row(p)).toContainText('job canceled');
  }
  await expect(page.getByRole('button', { name: 'Cancel queued items' })).toHaveCount(0);
  await screen(page, '14-job-canceled');
});
