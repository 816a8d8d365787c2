// Upstream health and traffic at a glance: the flaky remote's upstream is
// started and stopped by this test (global-setup.ts reserved its port), and
// the dashboard must say so — healthy, unreachable, serving stale, healthy
// again — and explain "Test connection"; the overview's figures for the
// remote are the ones this test produced.
import { test, expect, signIn, screen } from '../lib/fixtures';
import { startOrigin, sizeOf } from '../lib/origin';
import type { Page } from '@playwright/test';

test.describe.configure({ mode: 'serial' });

const remote = 'flaky';
const port = (): number => Number(process.env.E2E_FLAKY_PORT);
let upstream: { url: string; close: () => Promise<void> } | undefined;

test.afterAll(async () => {
  await upstream?.close();
});

/** GET /api/flaky/{p}: status, source and stale headers. */
async function get(p: string): Promise<{ status: number; source: string; stale: string }> {
  const r = await fetch(`${process.env.E2E_BASE_URL}/api/${remote}/${p}`);
  await r.arrayBuffer();
  return { status: r.status, source: r.headers.get('x-artifact-source') ?? '', stale: r.headers.get('x-artifact-stale') ?? '' };
}

/** The flaky remote's badge on the overview, reloading until it reads want. */
async function overviewBadge(page: Page, want: string): Promise<void> {
  const badge = page.locator(`#remotes-table tr[data-remote="${remote}"] [data-col="health"] .health`);
  await expect.poll(async () => {
    await page.goto('/ui/');
    return (await badge.textContent())?.trim();
  }, { message: `overview badge of ${remote}`, timeout: 20_000 }).toBe(want);
}

const secrets = (): string[] => JSON.parse(process.env.E2E_SECRETS ?? '[]');

async function noSecrets(page: Page): Promise<void> {
  const html = await page.content();
  for (const s of secrets()) expect(html.includes(s), 'a secret on ' + page.url()).toBe(false);
}

test('the badge follows the upstream: healthy, unreachable, serving stale, healthy again', async ({ page }) => {
  test.setTimeout(120_000);
  upstream = await startOrigin(port());
  await signIn(page);

  // Before any request the remote has no state yet.
  await page.goto('/ui/');
  await expect(page.locator(`#remotes-table tr[data-remote="${remote}"] [data-col="health"]`)).toHaveText('No traffic yet');

  expect((await get('files/index.json')).source).toBe('remote');
  expect((await get('files/first-4.bin')).source).toBe('remote');
  await overviewBadge(page, 'Healthy');
  const nav = page.getByRole('navigation', { name: 'Main' }).locator(`a[href="/ui/remotes/${remote}"] .health-dot`);
  await expect(nav).toHaveAttribute('data-health', 'healthy');
  await screen(page, '40-health-healthy');

  // The upstream goes away: a miss fails, and the remote is unreachable.
  await upstream.close();
  upstream = undefined;
  expect((await get('files/absent-2.bin')).status).toBe(502);
  await overviewBadge(page, 'Unreachable');
  await expect(nav).toHaveAttribute('data-health', 'unreachable');

  // Once the mutable index has expired (mutable_ttl 1 s), its copy is served stale.
  await expect.poll(async () => {
    const r = await fetch(`${process.env.E2E_BASE_URL}/artifacts/${remote}?q=index.json`);
    const expires = (await r.json()).items[0]?.expires_at;
    return expires !== undefined && Date.now() > Date.parse(expires);
  }, { message: 'index.json expired' }).toBe(true);
  expect(await get('files/index.json')).toEqual({ status: 200, source: 'cache', stale: 'true' });
  await overviewBadge(page, 'Serving stale');

  await page.goto(`/ui/remotes/${remote}`);
  const card = page.locator('#upstream');
  await expect(card.locator('.card-header .health')).toHaveText('Serving stale');
  await expect(card.getByTestId('last-error')).toContainText('connection refused');
  await expect(card.getByTestId('health-summary')).toContainText('serving cached copies');
  await noSecrets(page);
  await screen(page, '41-health-stale');

  // It comes back: the next request succeeds and the remote is healthy.
  upstream = await startOrigin(port());
  expect((await get('files/back-3.bin')).source).toBe('remote');
  await overviewBadge(page, 'Healthy');
  await expect(nav).toHaveAttribute('data-health', 'healthy');
});

test('"Test connection" explains the result, up and down', async ({ page }) => {
  test.setTimeout(60_000);
  if (!upstream) upstream = await startOrigin(port());
  await signIn(page);
  await page.goto(`/ui/remotes/${remote}`);
  const result = page.getByTestId('probe-result');
  await page.getByRole('button', { name: 'Test connection' }).click();
  // The origin has no page at its root: an answer, explained as such.
  await expect(result).toHaveAttribute('data-ok', 'true');
  await expect(result).toContainText('Reachable: HEAD http://127.0.0.1:' + port() + '/ answered HTTP 404');
  await expect(result.getByTestId('probe-status')).toHaveText('HTTP 404');
  await expect(page.getByRole('button', { name: 'Test connection' })).toBeFocused();

  await upstream.close();
  upstream = undefined;
  await page.getByRole('button', { name: 'Test connection' }).click();
  await expect(result).toHaveAttribute('data-ok', 'false');
  await expect(result).toContainText('Not reachable: nothing accepts connections at 127.0.0.1:' + port());
  await expect(result.getByTestId('probe-status')).toHaveText('connection refused');
  await noSecrets(page);
  await screen(page, '42-test-connection-down');
  upstream = await startOrigin(port());
});

test('the overview shows what the remote stored and served, and its hit ratio', async ({ page }) => {
  await signIn(page);
  // What the first test did: a miss and no hit for each of index.json,
  // first-4.bin and back-3.bin; one stale hit of index.json. Now two hits.
  expect((await get('files/first-4.bin')).source).toBe('cache');
  expect((await get('files/first-4.bin')).source).toBe('cache');
  const index = Buffer.byteLength(JSON.stringify({ generated: 'files/index.json', files: 12 }) + '\n');
  const first = sizeOf('files/first-4.bin');
  const back = sizeOf('files/back-3.bin');
  const stored = index + first + back;
  const served = index * 2 + first * 3 + back;
  const row = page.locator(`#traffic-table tr[data-remote="${remote}"]`);
  // Hit counts and traffic reach the shared store every second or two: reload until they have.
  const topHits = page.locator('#top-artifacts tr[data-path="files/first-4.bin"] [data-col="hits"]');
  await expect.poll(async () => {
    await page.goto('/ui/');
    return [await row.locator('[data-col="stored"]').getAttribute('data-bytes'),
      await row.locator('[data-col="served"]').getAttribute('data-bytes'),
      (await row.locator('[data-col="hit-ratio"]').textContent())?.trim(),
      (await topHits.count()) ? (await topHits.textContent())?.trim() : 'not listed'];
  }, { message: 'figures of the flaky remote', timeout: 20_000 }).toEqual([String(stored), String(served), '50.0 %', '2']);
  // Bytes the cache saved the upstream: everything served from the cache.
  await expect(row.locator('[data-col="saved"]')).toHaveText(bytes(index + first * 2));
  await expect(row.locator('svg.spark')).toHaveAttribute('data-requests', '6');
  await expect(page.locator(`#remotes-table tr[data-remote="${remote}"] [data-col="ratio"]`)).toHaveText('50.0 %');
  await screen(page, '43-overview-traffic');
});

/** views.Bytes: "1.5 KiB". */
function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  let div = 1024;
  let exp = 0;
  for (let m = Math.floor(n / 1024); m >= 1024 && exp < 5; m = Math.floor(m / 1024)) {
    div *= 1024;
    exp++;
  }
  return `${(n / div).toFixed(1)} ${'KMGTPE'[exp]}iB`;
}
