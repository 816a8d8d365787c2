import { test, expect, signIn, screen, adminToken, admin } from '../lib/fixtures';
import * as crypto from 'node:crypto';
import { pushImage, skopeo, OCI_MANIFEST } from '../lib/registry';

const remote = 'images';

/** host:port of the server, as the browser reaches it. */
const host = (): string => new URL(process.env.E2E_BASE_URL ?? '').host;

/** A manifest GET from the page (anonymous, like a pull): status, digest and error code. */
async function pullFromPage(page: import('@playwright/test').Page, repo: string, ref: string) {
  return page.evaluate(async ([repo, ref, accept]) => {
    const r = await fetch(`/v2/${repo}/manifests/${ref}`, { headers: { Accept: accept } });
    const body = await r.text();
    let code = '';
    try { code = JSON.parse(body).errors?.[0]?.code ?? ''; } catch { /* a manifest */ }
    return { status: r.status, digest: r.headers.get('Docker-Content-Digest') ?? '', code };
  }, [`${remote}/${repo}`, ref, OCI_MANIFEST]);
}

test('an image pushed with skopeo is listed with its tag, digest, size and pull command; deleting the tag makes pulls fail', async ({ page, context }) => {
  const repo = 'e2e/app-' + crypto.randomBytes(3).toString('hex');
  const img = pushImage(host(), remote, repo, '1.0', adminToken());
  const other = pushImage(host(), remote, repo, '2.0', adminToken());

  await signIn(page);
  await page.goto(`/ui/remotes/${remote}`);
  await expect(page.getByRole('heading', { name: 'Images', exact: true })).toBeVisible();
  const repoRow = page.locator(`#repos tr[data-repo="${repo}"]`);
  await expect(repoRow.locator('[data-col="tags"]')).toHaveText('2');
  await expect(repoRow.locator('[data-bytes]')).toHaveAttribute('data-bytes', String(img.size + other.size));

  // Selecting the repository loads its tags in place and into the address bar.
  await repoRow.getByRole('link', { name: repo }).click();
  await expect(page.getByTestId('selected-repo')).toHaveText(repo);
  await expect(page).toHaveURL(new RegExp(`/ui/remotes/${remote}\\?repo=${encodeURIComponent(repo)}$`));
  const row = page.locator('#tags tr[data-tag="1.0"]');
  await expect(row.getByTestId('digest')).toHaveAttribute('data-digest', img.manifestDigest);
  await expect(row.getByTestId('digest')).toHaveAttribute('title', img.manifestDigest);
  await expect(row.getByTestId('media-type')).toHaveAttribute('data-media-type', OCI_MANIFEST);
  await expect(row.getByTestId('media-type')).toHaveText('OCI image');
  await expect(row.getByTestId('size')).toHaveAttribute('data-bytes', String(img.size));
  await expect(page.locator('#tags tr[data-tag="2.0"]').getByTestId('digest')).toHaveAttribute('data-digest', other.manifestDigest);
  await expect(row.locator('time').first()).toHaveAttribute('datetime', /^\d{4}-\d\d-\d\dT/);

  // The pull command names this server, the remote, the repository and the tag.
  const pull = `docker pull ${host()}/${remote}/${repo}:1.0`;
  await expect(row.getByRole('textbox', { name: 'Pull command of 1.0' })).toHaveValue(pull);
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await row.getByRole('button', { name: 'Copy the pull command of 1.0' }).click();
  await expect(row.getByRole('button', { name: 'Copy the pull command of 1.0' })).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(pull);
  // …and that reference pulls the digest shown.
  expect(await pullFromPage(page, repo, '1.0')).toEqual({ status: 200, digest: img.manifestDigest, code: '' });
  await screen(page, '20-images');

  // Delete 1.0: confirmed, the row goes, the repository counts one tag.
  let confirm = '';
  page.once('dialog', (d) => { confirm = d.message(); void d.accept(); });
  const sent = page.waitForRequest((r) => r.method() === 'DELETE');
  await row.getByRole('button', { name: 'Delete tag 1.0' }).click();
  const req = await sent;
  // The CSRF token travels in a header, never in the URL (access logs).
  expect(new URL(req.url()).searchParams.get('_csrf')).toBeNull();
  expect(req.headers()['x-csrf-token']).toBeTruthy();
  await expect(page.locator('#tags tr[data-tag="1.0"]')).toHaveCount(0);
  expect(confirm).toContain(`Delete tag 1.0 of ${repo}?`);
  await expect(repoRow.locator('[data-col="tags"]')).toHaveText('1');
  await expect(page.locator('#tags tr[data-tag="2.0"]')).toHaveCount(1);

  // A pull of the deleted tag fails with MANIFEST_UNKNOWN, from the page and with skopeo; 2.0 still pulls.
  expect(await pullFromPage(page, repo, '1.0')).toEqual({ status: 404, digest: '', code: 'MANIFEST_UNKNOWN' });
  expect(() => skopeo(['inspect', '--retry-times', '0', '--tls-verify=false', `docker://${host()}/${remote}/${repo}:1.0`]))
    .toThrow(/manifest unknown/i);
  expect(await pullFromPage(page, repo, '2.0')).toEqual({ status: 200, digest: other.manifestDigest, code: '' });

  // The deletion holds after a reload (it is in the store, not only the page).
  await page.reload();
  await expect(page.locator('#tags tr[data-tag="2.0"]')).toHaveCount(1);
  await expect(page.locator('#tags tr[data-tag="1.0"]')).toHaveCount(0);
});

test('a tag deletion needs the CSRF token and a session', async ({ page, playwright }) => {
  const repo = 'e2e/csrf-' + crypto.randomBytes(3).toString('hex');
  const img = pushImage(host(), remote, repo, 'keep', adminToken());
  await signIn(page);
  const target = `/ui/remotes/${remote}/images/tags?repo=${encodeURIComponent(repo)}&tag=keep`;
  // The session cookie alone (a cross-site request) is refused.
  expect((await page.request.delete(target, { headers: { 'HX-Request': 'true' } })).status()).toBe(403);
  // Without a session, the admin token of the API does not open the dashboard.
  const bare = await playwright.request.newContext({ baseURL: process.env.E2E_BASE_URL });
  expect((await bare.delete(target, { headers: { ...admin(), 'HX-Request': 'true' }, maxRedirects: 0 })).status()).not.toBe(200);
  await bare.dispose();
  await page.goto(`/ui/remotes/${remote}`);
  expect(await pullFromPage(page, repo, 'keep')).toEqual({ status: 200, digest: img.manifestDigest, code: '' });
});

test('garbage collection runs from the dashboard, reports its result and keeps it, as POST /registry/gc does', async ({ page, request }) => {
  await signIn(page);
  await page.goto(`/ui/remotes/${remote}`);
  const card = page.locator('#gc');
  await expect(card.getByRole('heading', { name: 'Garbage collection' })).toBeVisible();
  const before = Date.now();
  await card.getByRole('button', { name: 'Run garbage collection' }).click();
  const result = page.getByTestId('gc-result');
  await expect(result.locator('[data-state="done"]')).toBeVisible();
  await expect(result).toContainText('the dashboard');
  for (const id of ['gc-blobs', 'gc-uploads']) await expect(page.getByTestId(id)).toHaveText(/^\d+$/);
  await expect(page.getByTestId('gc-bytes')).toHaveAttribute('data-bytes', /^\d+$/);
  const when = Date.parse((await page.getByTestId('gc-when').getAttribute('datetime')) ?? '');
  expect(when).toBeGreaterThanOrEqual(before - 2000); // RFC 3339: whole seconds
  expect(when).toBeLessThanOrEqual(Date.now() + 1000);
  await screen(page, '21-gc');

  // The result is in the metadata store: a new page shows it.
  await page.reload();
  await expect(page.getByTestId('gc-result').locator('[data-state="done"]')).toBeVisible();
  await expect(page.getByTestId('gc-result')).toContainText('the dashboard');

  // POST /registry/gc runs the same collection and is recorded the same way.
  const api = await request.post('/registry/gc', { headers: admin() });
  expect(api.status()).toBe(200);
  const rep = await api.json();
  await page.reload();
  await expect(page.getByTestId('gc-result')).toContainText('the api');
  await expect(page.getByTestId('gc-blobs')).toHaveText(String(rep.blobs));
  await expect(page.getByTestId('gc-uploads')).toHaveText(String(rep.uploads));
  await expect(page.getByTestId('gc-bytes')).toHaveAttribute('data-bytes', String(rep.bytes_deleted));
});

test('garbage collection from the dashboard frees the blobs of a deleted image and says how many bytes', async ({ page, request }) => {
  const repo = 'e2e/gc-' + crypto.randomBytes(3).toString('hex');
  const img = pushImage(host(), remote, repo, 'old', adminToken());
  // Delete the image (its manifest, by digest) through the registry API: its
  // config and layer are now referenced by no manifest.
  const del = await request.delete(`/v2/${remote}/${repo}/manifests/${img.manifestDigest}`, { headers: admin() });
  expect(del.status()).toBe(202);
  await signIn(page);
  await page.goto(`/ui/remotes/${remote}`);
  await expect(page.locator(`#repos tr[data-repo="${repo}"]`)).toHaveCount(0);
  const stored = Number(await page.getByTestId('stored').getAttribute('data-bytes'));
  // Collections inside the grace period (REGISTRY_GC_GRACE, 3s here) keep
  // them; the first one after it removes exactly these two blobs.
  await expect(async () => {
    await page.locator('#gc').getByRole('button', { name: 'Run garbage collection' }).click();
    await expect(page.getByTestId('gc-result').locator('[data-state="done"]')).toBeVisible({ timeout: 2000 });
    await expect(page.getByTestId('gc-blobs')).toHaveText('2', { timeout: 500 });
  }).toPass({ timeout: 30_000 });
  await expect(page.getByTestId('gc-bytes')).toHaveAttribute('data-bytes', String(img.size));
  await expect(page.getByTestId('gc-result')).toContainText('the dashboard');
  // The repository's links to them went too: the stored total shrank by them.
  await expect(page.getByTestId('stored')).toHaveAttribute('data-bytes', String(stored - img.size));
  await screen(page, '22-gc-freed');
  for (const d of [img.configDigest, img.layerDigest]) {
    const r = await request.get(`/v2/${remote}/${repo}/blobs/${d}`);
    expect(r.status(), d).toBe(404);
    expect((await r.json()).errors[0].code).toBe('BLOB_UNKNOWN');
  }
  // Nothing is left to collect.
  const again = await request.post('/registry/gc', { headers: admin() });
  expect(await again.json()).toEqual({ uploads: 0, blobs: 0, bytes_deleted: 0 });
});
