import { test, expect, signIn, screen, listed, fetchArtifact } from '../lib/fixtures';

test('a job started from the form runs to completion with live progress', async ({ page, request }) => {
  test.setTimeout(120_000);
  await signIn(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Jobs', exact: true })).toBeVisible();
  await screen(page, '10-jobs');

  const slow = ['slow/a-40.bin', 'slow/b-48.bin', 'slow/c-56.bin'];
  await page.getByLabel('Repository', { exact: true }).selectOption('batch');
  await page.getByLabel(/Paths, one per line/).fill([...slow, 'files/missing-1.bin'].join('\n'));
  await page.getByRole('button', { name: 'Start job' }).click();
  await expect(page).toHaveURL(/\/ui\/jobs\/[0-9a-f-]{36}$/);
  const jobURL = page.url();
  // Marks this document: if the page reloaded, the mark would be gone.
  await page.evaluate(() => ((window as unknown as { mark: string }).mark = 'same-document'));

  const items = page.locator('#job-items tbody tr');
  await expect(items).toHaveCount(4);
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
    return await page.locator('#job').getAttribute('data-state');
  }, { timeout: 90_000, intervals: [200] }).toBe('done');
  // An item failed: the job is not a plain "done".
  await expect(page.getByTestId('job-state')).toHaveText('done with failures');
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

  await expect(page.getByTestId('job-state')).toHaveText('canceled', { timeout: 30_000 });
  await expect(row(paths[0])).toHaveAttribute('data-state', 'cached');
  for (const p of paths.slice(1)) {
    await expect(row(p)).toHaveAttribute('data-state', 'canceled');
    await expect(row(p)).toContainText('job canceled');
  }
  await expect(page.getByRole('button', { name: 'Cancel queued items' })).toHaveCount(0);
  await screen(page, '14-job-canceled');
});

test('a job with failed items reads "done with failures"; retrying re-runs only the failed items', async ({ page, request }) => {
  test.setTimeout(120_000);
  await signIn(page);
  await page.goto('/ui/jobs');
  const ok = ['files/retry-ok-a-8.bin', 'files/retry-ok-b-12.bin'];
  const flaky = 'files/flaky3-retry-16.bin'; // 503 three times: fails after the worker's own retries
  await page.getByLabel('Repository', { exact: true }).selectOption('batch');
  await page.getByLabel(/Paths, one per line/).fill([ok[0], flaky, ok[1]].join('\n'));
  await page.getByRole('button', { name: 'Start job' }).click();
  await expect(page).toHaveURL(/\/ui\/jobs\/[0-9a-f-]{36}$/);
  const firstURL = page.url();

  await expect(page.getByTestId('job-state')).toHaveText('done with failures', { timeout: 60_000 });
  await expect(page.locator('#job')).toHaveAttribute('data-outcome', 'done_with_failures');
  const row = (p: string) => page.locator('#job-items tbody tr', { hasText: p });
  await expect(row(flaky)).toHaveAttribute('data-state', 'failed');
  await expect(row(flaky)).toContainText(/attempts/);
  // Progress is weighted by the sizes it knows, with what it downloaded.
  await expect(page.getByTestId('job-progress')).toContainText('100.0% (by bytes)');

  // Filter: only the failed item.
  await page.getByRole('navigation', { name: 'Show items by state' }).getByRole('link', { name: /^failed/ }).click();
  await expect(page.locator('#job-items tbody tr')).toHaveCount(1);
  await expect(page.locator('#job-items tbody tr')).toContainText(flaky);
  await screen(page, '15-job-failed-filter');

  await page.getByRole('button', { name: 'Retry failed items' }).click();
  await expect(page).toHaveURL(/\/ui\/jobs\/[0-9a-f-]{36}$/);
  expect(page.url()).not.toBe(firstURL);
  // The new job holds the failed item only, and caches it.
  await expect(page.locator('#job-items tbody tr')).toHaveCount(1);
  await expect(page.getByTestId('job-state')).toHaveText('done', { timeout: 60_000 });
  await expect(row(flaky)).toHaveAttribute('data-state', 'cached');
  await expect(page.getByRole('button', { name: 'Retry failed items' })).toHaveCount(0);
  expect(await listed(request, 'batch', 'retry')).toEqual(expect.arrayContaining([flaky, ...ok]));

  // The first job still tells what happened to it.
  await page.goto(firstURL);
  await expect(page.getByTestId('job-state')).toHaveText('done with failures');
  await screen(page, '16-job-retried');
});

test('every path the patterns deny or that is invalid is listed at submit', async ({ page, request }) => {
  await signIn(page);
  await page.goto('/ui/jobs');
  await page.getByLabel('Repository', { exact: true }).selectOption('batch');
  const text = ['files/fine-4.bin', 'docs/readme.txt', '', 'files/../../etc/passwd', 'files/fine-5.bin', 'notes.md'].join('\n');
  await page.getByLabel(/Paths, one per line/).fill(text);
  await page.getByRole('button', { name: 'Start job' }).click();
  const alert = page.locator('#job-form [role=alert]');
  await expect(alert).toContainText('3 of 5 paths cannot be cached');
  const lines = page.getByTestId('invalid-lines').locator('li');
  await expect(lines).toHaveCount(3);
  expect(await lines.evaluateAll((ls) => ls.map((l) => (l as HTMLElement).dataset.line))).toEqual(['2', '4', '6']);
  await expect(lines.nth(0)).toContainText("docs/readme.txt — path not allowed by the remote's patterns");
  await expect(lines.nth(1)).toContainText("'..' segment not allowed");
  await expect(lines.nth(2)).toContainText('notes.md');
  await expect(page.getByLabel(/Paths, one per line/)).toHaveValue(text);
  await screen(page, '17-job-invalid-lines');
  // Nothing was queued.
  expect(await listed(request, 'batch', 'fine-')).toEqual([]);
});
