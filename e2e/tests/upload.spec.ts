import { test, expect, signIn, screen } from '../lib/fixtures';
import * as crypto from 'node:crypto';
import { sha256 } from '../lib/origin';

test('uploading files to a local repository shows progress, the URL and the sha256; the download matches', async ({ page, request }) => {
  await signIn(page);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Upload', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Upload', exact: true })).toBeVisible();
  await screen(page, '14-upload');

  const big = crypto.randomBytes(12 * 1024 * 1024 + 123); // above the 8 MiB in-memory body limit: streamed
  const small = Buffer.from('hello from the dashboard\n');
  await page.getByLabel('Repository', { exact: true }).selectOption('uploads');
  await page.getByLabel(/Directory/).fill('tools/v1');
  await page.getByLabel('Files', { exact: true }).setInputFiles([
    { name: 'big-tool.bin', mimeType: 'application/octet-stream', buffer: big },
    { name: 'notes.txt', mimeType: 'text/plain', buffer: small },
  ]);
  // Watch the progress bars move while the files are sent.
  const progress: number[] = [];
  const watch = setInterval(() => {
    page.locator('#upload-results progress').first().evaluate((p) => (p as HTMLProgressElement).value)
      .then((v) => progress.push(v)).catch(() => undefined);
  }, 20);
  await page.getByRole('button', { name: 'Upload', exact: true }).click();
  const rows = page.locator('#upload-results tbody tr');
  await expect(rows).toHaveCount(2);
  await expect(page.locator('#upload-results tbody tr[data-state="done"]')).toHaveCount(2, { timeout: 60_000 });
  clearInterval(watch);
  await expect(page.locator('#flash')).toContainText('2 files uploaded');
  expect(progress.some((v) => v > 0)).toBe(true);
  await screen(page, '15-upload-done');

  for (const [name, body] of [['big-tool.bin', big], ['notes.txt', small]] as const) {
    const row = page.locator('#upload-results tbody tr', { hasText: `tools/v1/${name}` });
    const url = await row.locator('a.upload-url').textContent();
    const shown = (await row.locator('.upload-sha').textContent())?.trim();
    expect(url).toBe(`${process.env.E2E_BASE_URL}/api/uploads/tools/v1/${name}`);
    expect(shown).toBe(sha256(body));
    const r = await request.get(url!);
    expect(r.status()).toBe(200);
    const got = await r.body();
    expect(sha256(got)).toBe(shown);
    expect(r.headers()['x-checksum-sha256']).toBe(shown);
  }

  // The same path again is refused in place: local repositories do not overwrite.
  await page.getByLabel('Files', { exact: true }).setInputFiles([{ name: 'notes.txt', mimeType: 'text/plain', buffer: small }]);
  await page.getByRole('button', { name: 'Upload', exact: true }).click();
  await expect(page.locator('#upload-results tbody tr[data-state="failed"]')).toContainText('already exists');

  // The uploads are listed on the repository's page.
  await page.goto('/ui/remotes/uploads');
  await expect(page.locator('#artifacts tr[data-path]')).toHaveCount(2);
  await expect(page.getByRole('button', { name: 'Delete tools/v1/notes.txt' })).toBeVisible();
});
