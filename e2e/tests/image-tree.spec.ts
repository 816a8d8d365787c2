import { test, expect, signIn, screen, adminToken } from '../lib/fixtures';
import * as crypto from 'node:crypto';
import { OCI_MANIFEST } from '../lib/registry';
import { pushIndex, OCI_INDEX, type MultiImage } from '../lib/multiarch';

/** host:port of the server, as the browser reaches it. */
const host = (): string => new URL(process.env.E2E_BASE_URL ?? '').host;

/** A manifest GET from the page (anonymous, like a pull): status, digest and error code. */
async function pull(page: import('@playwright/test').Page, path: string) {
  return page.evaluate(async ([path, accept]) => {
    const r = await fetch(path, { headers: { Accept: accept } });
    const body = await r.text();
    let code = '';
    try { code = JSON.parse(body).errors?.[0]?.code ?? ''; } catch { /* not an error */ }
    return { status: r.status, digest: r.headers.get('Docker-Content-Digest') ?? '', code };
  }, [path, `${OCI_INDEX}, ${OCI_MANIFEST}`]);
}

/** Checks the layer rows of a platform: sizes and state. */
async function expectLayers(section: import('@playwright/test').Locator, img: MultiImage, i: number, state: string) {
  const p = img.platforms[i];
  const block = section.locator(`details[data-platform="${p.platform}"]`);
  await expect(block.getByTestId('platform-size')).toHaveAttribute('data-bytes', String(p.size));
  for (const b of p.blobs) {
    const row = block.locator(`tr[data-layer="${b.digest}"]`);
    await expect(row.getByTestId('layer-size')).toHaveAttribute('data-bytes', String(b.size));
    await expect(row).toHaveAttribute('data-state', state);
  }
}

test('a multi-platform image of a local repository opens into its platforms and layers; the pull commands copy; deleting the tag and the untagged manifests makes pulls fail', async ({ page, context }) => {
  const repo = 'e2e/multi-' + crypto.randomBytes(3).toString('hex');
  const img = pushIndex(host(), 'images', repo, 'multi', adminToken());
  await signIn(page);
  await page.goto(`/ui/remotes/images?repo=${encodeURIComponent(repo)}`);
  const row = page.locator('#tags tr[data-tag="multi"]');
  await expect(row.getByTestId('digest')).toHaveAttribute('data-digest', img.indexDigest);
  await expect(row.getByTestId('size')).toHaveAttribute('data-bytes', String(img.size));
  await expect(row.getByTestId('media-type')).toContainText('multi-platform');

  await row.getByRole('link', { name: 'Platforms and layers of multi' }).click();
  const section = page.locator('#image');
  await expect(section.getByTestId('image-digest')).toHaveText(img.indexDigest);
  await expect(section.locator('details[data-platform]')).toHaveCount(2);
  await expect(section.getByTestId('image-size')).toHaveAttribute('data-bytes', String(img.size));
  await expectLayers(section, img, 0, 'stored');
  await expectLayers(section, img, 1, 'stored');

  // Each pull form copies exactly what it shows.
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const ref = `${host()}/images/${repo}:multi`;
  const forms: [string, string][] = [
    ['Copy the docker pull command', `docker pull ${ref}`],
    ['Copy the ctr pull command', `ctr images pull --plain-http ${ref}`],
  ];
  for (const [button, want] of forms) {
    await section.getByRole('button', { name: button }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(want);
    await expect(section.getByRole('button', { name: button })).toHaveAttribute('data-copy-text', want);
  }
  await section.getByRole('button', { name: 'Copy the RKE2 registries.yaml' }).click();
  const rke2 = await page.evaluate(() => navigator.clipboard.readText());
  expect(rke2).toContain(`"${host()}":\n    endpoint:\n      - "http://${host()}"`);
  await expect(section.getByTestId('rke2-image')).toHaveText(ref);
  expect(await pull(page, `/v2/images/${repo}/manifests/multi`)).toEqual({ status: 200, digest: img.indexDigest, code: '' });
  await screen(page, '23-image-tree');

  // Delete the tag, then count and delete what no tag reaches: the index and its two images.
  page.once('dialog', (d) => void d.accept());
  await row.getByRole('button', { name: 'Delete tag multi' }).click();
  await expect(page.locator('#tags tr[data-tag="multi"]')).toHaveCount(0);
  await page.locator('#tags').getByRole('button', { name: 'Delete untagged' }).click();
  await expect(page.getByTestId('repo-action-count')).toHaveText('3');
  await page.getByTestId('repo-action-confirm').getByRole('button', { name: 'Delete 3' }).click();
  await expect(page.getByTestId('repo-action-done')).toContainText('Deleted 3 untagged manifests');
  for (const d of [img.indexDigest, img.platforms[0].manifestDigest, img.platforms[1].manifestDigest]) {
    expect(await pull(page, `/v2/images/${repo}/manifests/${d}`)).toEqual({ status: 404, digest: '', code: 'MANIFEST_UNKNOWN' });
  }
  await expect(page.locator(`#repos tr[data-repo="${repo}"]`)).toHaveCount(0);
});

test('a docker mirror shows what a pull of one platform cached; evicting the tag and the repository empties it', async ({ page, context }) => {
  const repo = 'e2e/mirrored-' + crypto.randomBytes(3).toString('hex');
  const img = pushIndex(host(), 'images', repo, 'multi', adminToken());
  const upstreamRepo = `images/${repo}`;
  await signIn(page);
  // A client of the mirror pulls linux/amd64 only: the index by tag, its image, its blobs.
  const amd = img.platforms[0];
  expect(await pull(page, `/v2/mirror/${upstreamRepo}/manifests/multi`)).toMatchObject({ status: 200, digest: img.indexDigest });
  expect(await pull(page, `/v2/mirror/${upstreamRepo}/manifests/${amd.manifestDigest}`)).toMatchObject({ status: 200 });
  for (const b of amd.blobs) expect((await page.request.get(`/v2/mirror/${upstreamRepo}/blobs/${b.digest}`)).status()).toBe(200);

  await page.goto('/ui/remotes/mirror');
  const repoRow = page.locator(`#repos tr[data-repo="${upstreamRepo}"]`);
  await expect(repoRow.locator('[data-col="tags"]')).toHaveText('1');
  await repoRow.getByRole('link', { name: upstreamRepo }).click();
  const row = page.locator('#tags tr[data-tag="multi"]');
  await expect(row.getByTestId('digest')).toHaveAttribute('data-digest', img.indexDigest);
  await expect.poll(async () => row.getByTestId('held').getAttribute('data-bytes')).toBe(String(amd.size));
  await row.getByRole('link', { name: 'Platforms and layers of multi' }).click();
  const section = page.locator('#image');
  await expect(section.locator('details[data-platform]')).toHaveCount(2);
  await expectLayers(section, img, 0, 'cached');
  await expect(section.locator(`details[data-platform="${img.platforms[1].platform}"] [data-state="not-cached"]`)).toHaveText('manifest not cached');
  await expect(section.getByTestId('image-held')).toHaveAttribute('data-bytes', String(amd.size));
  // The pull forms name the mirror; pods behind RKE2 keep the upstream's name.
  await expect(section.getByRole('textbox', { name: 'docker / podman' })).toHaveValue(`docker pull ${host()}/mirror/${upstreamRepo}:multi`);
  await expect(section.locator('#pull-rke2')).toHaveValue(new RegExp(`"\\^\\(\\.\\*\\)\\$": "mirror/\\$1"`));
  await expect(section.getByTestId('rke2-image')).toHaveText(`${host()}/${upstreamRepo}:multi`);
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await section.getByRole('button', { name: 'Copy the docker pull command' }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`docker pull ${host()}/mirror/${upstreamRepo}:multi`);
  await screen(page, '24-mirror-image-tree');

  // Evict the tag: the row goes, the next pull asks the upstream again.
  page.once('dialog', (d) => void d.accept());
  await row.getByRole('button', { name: 'Evict tag multi' }).click();
  await expect(page.locator('#tags tr[data-tag="multi"]')).toHaveCount(0);
  const again = await page.request.get(`/v2/mirror/${upstreamRepo}/manifests/multi`, { headers: { Accept: OCI_INDEX } });
  expect(again.headers()['x-artifact-source']).toBe('remote');
  // Evict the whole repository after the count.
  await page.reload();
  await page.locator('#tags').getByRole('button', { name: 'Evict repository' }).click();
  await expect(page.getByTestId('repo-action-count')).toHaveText(/^[1-9]\d*$/);
  await page.getByTestId('repo-action-confirm').getByRole('button', { name: /^Evict \d+$/ }).click();
  await expect(page.getByTestId('repo-action-done')).toBeVisible();
  await expect(page.locator(`#repos tr[data-repo="${upstreamRepo}"]`)).toHaveCount(0);
});
