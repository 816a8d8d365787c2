// Users, tokens and the audit log in the dashboard, with their outcomes on
// the API: what a new user may see, what a token may upload, that a revoked
// token and an ended session are refused (on both replicas), and that the
// audit log shows all of it.
import { test, expect, signIn, screen, admin } from '../lib/fixtures';
import type { Page } from '@playwright/test';
import * as crypto from 'node:crypto';
import { startReplica, type Replica } from '../lib/replica';

// A second replica on the same services, for this file only (the other
// specs expect a single job worker).
let second: Replica | undefined;
test.beforeAll(async () => {
  second = await startReplica();
});
test.afterAll(async () => {
  await second?.stop();
});
const replica2 = (): string => second?.url ?? '';
const suffix = (): string => crypto.randomBytes(3).toString('hex');

/** The remote names in the sidebar. */
async function sidebarRemotes(page: Page): Promise<string[]> {
  return (await page.locator('.nav-remotes .nav-remote-name').allTextContents()).map((s) => s.trim()).sort();
}

/** PUT body to /api/{remote}/{path} with an Authorization header; the status. */
async function upload(remote: string, p: string, authorization: string, body = 'uploaded by a token\n'): Promise<number> {
  const r = await fetch(`${process.env.E2E_BASE_URL}/api/${remote}/${p}`, { method: 'PUT', body, headers: { Authorization: authorization } });
  await r.arrayBuffer();
  return r.status;
}

test('a user created with a scope sees only what it may read; a password change and sign-out end its sessions on both replicas', async ({ page, browser, baseURL }) => {
  test.setTimeout(120_000);
  const name = 'reader-' + suffix();
  await signIn(page);
  const access = page.getByTestId('nav-access');
  await access.getByRole('link', { name: 'Users' }).click();
  await expect(page.getByRole('heading', { name: 'Users', exact: true, level: 1 })).toBeVisible();

  // A refused creation keeps what was typed and says why.
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password', { exact: true }).fill('short-pass-x');
  await page.getByLabel('Scopes').fill('read:restricted peek');
  await page.getByRole('button', { name: 'Create user' }).click();
  await expect(page.locator('#user-form [role=alert]')).toContainText('action must be read, write, delete or admin');
  await expect(page.getByLabel('User name')).toHaveValue(name);

  await page.getByLabel('Password', { exact: true }).fill('reader-password-1');
  await page.getByLabel('Scopes').fill('read:restricted');
  await page.getByRole('button', { name: 'Create user' }).click();
  const row = page.locator(`tr[data-user="${name}"]`);
  await expect(row).toHaveAttribute('data-state', 'active');
  await expect(row.locator('code.scope')).toHaveText(['read:restricted']);
  await expect(page.getByText(`User ${name} created.`)).toBeVisible();
  await screen(page, '20-users');

  // In a fresh browser the user sees the public remotes and restricted, not
  // hidden nor the scoped local repositories, and no admin screen.
  const ctx = await browser.newContext({ baseURL });
  const user = await ctx.newPage();
  await signIn(user, name, 'reader-password-1');
  await expect(user.getByTestId('signed-in-as')).toHaveText(name);
  const seen = await sidebarRemotes(user);
  expect(seen).toContain('restricted');
  expect(seen).toContain('catalog');
  for (const n of ['hidden', 'drop-a', 'drop-b']) expect(seen).not.toContain(n);
  await expect(user.getByTestId('nav-access')).toHaveCount(0);
  await expect(user.getByRole('link', { name: 'Configuration' })).toHaveCount(0);
  await screen(user, '21-user-sidebar');
  for (const p of ['/ui/users', '/ui/tokens', '/ui/audit', '/ui/remotes/hidden']) {
    const r = await user.goto(p);
    expect(r?.status(), p).toBe(403);
  }
  expect((await user.goto('/ui/remotes/restricted'))?.status()).toBe(200);

  // The same session works on the second replica (its cache now holds it)…
  await user.goto(replica2() + '/ui/');
  await expect(user.getByTestId('signed-in-as')).toHaveText(name);
  // …until the admin changes the password: both replicas refuse it at once.
  await row.getByText('Change password').click();
  await row.getByLabel(`New password for ${name}`).fill('reader-password-2');
  await row.getByRole('button', { name: 'Set' }).click();
  await expect(page.getByText(`Password of ${name} changed; its sessions ended.`)).toBeVisible();
  for (const base of [replica2(), baseURL]) {
    await user.goto(base + '/ui/');
    await expect(user, `session after the password change on ${base}`).toHaveURL(/\/ui\/login$/);
  }

  // Signed in again on replica 2, signing out there ends the session on replica 1 too.
  await signIn(user, name, 'reader-password-2', replica2());
  const session = (await ctx.cookies()).filter((c) => c.name === 'artifactapi_session');
  expect(session).toHaveLength(1);
  await user.goto(baseURL + '/ui/');
  await expect(user.getByTestId('signed-in-as')).toHaveText(name);
  await user.goto(replica2() + '/ui/');
  await user.getByRole('button', { name: 'Sign out' }).click();
  await expect(user).toHaveURL(/\/ui\/login$/);
  await ctx.addCookies(session); // the old cookie, replayed
  await user.goto(baseURL + '/ui/');
  await expect(user).toHaveURL(/\/ui\/login$/);

  // Disabled, the user cannot sign in; enabled again, it can.
  await page.reload();
  await row.getByRole('button', { name: 'Disable' }).click();
  await expect(row).toHaveAttribute('data-state', 'disabled');
  await user.getByLabel('User name').fill(name);
  await user.getByLabel('Password or token').fill('reader-password-2');
  await user.getByRole('button', { name: 'Sign in' }).click();
  await expect(user.getByRole('alert')).toContainText('not the admin token, nor a valid API token or user name and password');
  await row.getByRole('button', { name: 'Enable' }).click();
  await expect(row).toHaveAttribute('data-state', 'active');
  await signIn(user, name, 'reader-password-2');

  // Deleting asks first.
  page.once('dialog', (d) => d.accept());
  await row.getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByText(`User ${name} deleted with its tokens and sessions.`)).toBeVisible();
  await expect(row).toHaveCount(0);
  await user.goto('/ui/');
  await expect(user).toHaveURL(/\/ui\/login$/);
  await ctx.close();
});

test.describe.serial('tokens and the audit log', () => {
  const owner = 'ci-bot-' + suffix();
  const tokenName = 'deploy-' + suffix();
  let secret = '';

  test('a token is shown once, uploads where its scope allows, and is refused once revoked', async ({ page }) => {
    await signIn(page);
    await page.getByTestId('nav-access').getByRole('link', { name: 'Tokens' }).click();
    await expect(page.getByRole('heading', { name: 'API tokens', level: 1 })).toBeVisible();
    await page.getByLabel('Token name').fill(tokenName);
    await page.getByLabel('Owner kind').selectOption('service');
    await page.getByLabel('Owner', { exact: true }).fill(owner);
    await page.getByLabel('Scopes').fill('write:drop-a');
    await page.getByLabel('Expires').selectOption('720h');
    await page.getByRole('button', { name: 'Create token' }).click();

    const created = page.getByTestId('created-token');
    await expect(created).toContainText('it is shown this once and never again');
    secret = await page.getByLabel(/Secret of/).inputValue();
    expect(secret).toMatch(/^aat_/);
    await created.getByRole('button', { name: 'Copy' }).click();
    await expect(created.getByRole('button', { name: 'Copied' })).toBeVisible();
    const row = page.locator(`tr[data-name="${tokenName}"]`);
    await expect(row).toHaveAttribute('data-state', 'active');
    await expect(row).toContainText(owner);
    await expect(row.locator('code.scope')).toHaveText(['write:drop-a']);
    await expect(row.getByTestId('last-used')).toHaveText('never');
    await screen(page, '22-token-created');

    // Reloaded, the page never shows the secret again.
    await page.reload();
    await expect(page.getByTestId('created-token')).toHaveCount(0);
    expect(await page.content()).not.toContain(secret);

    // The token uploads to drop-a, is refused on drop-b, and its use is recorded.
    expect(await upload('drop-a', `ci/${tokenName}.txt`, 'Bearer ' + secret)).toBe(201);
    expect(await upload('drop-b', `ci/${tokenName}.txt`, 'Bearer ' + secret)).toBe(403);
    await page.reload();
    await expect(row.getByTestId('last-used')).not.toHaveText('never');

    page.once('dialog', (d) => d.accept());
    await row.getByRole('button', { name: 'Revoke' }).click();
    await expect(row).toHaveAttribute('data-state', 'revoked');
    await expect(page.getByText(`Token ${tokenName} of ${owner} revoked.`)).toBeVisible();
    await screen(page, '23-token-revoked');
    expect(await upload('drop-a', `ci/${tokenName}-2.txt`, 'Bearer ' + secret)).toBe(401);
    const viaReplica2 = await fetch(`${replica2()}/api/drop-a/ci/${tokenName}-3.txt`, { method: 'PUT', body: 'x', headers: { Authorization: 'Bearer ' + secret } });
    expect(viaReplica2.status).toBe(401);
  });

  test('the audit log shows those actions with actor and outcome; filters and paging work', async ({ page }) => {
    test.setTimeout(120_000);
    // Enough entries for a second page: uploads by the admin token.
    for (let i = 0; i < 52; i++) {
      expect(await upload('drop-a', `bulk/${tokenName}/${i}.txt`, admin().Authorization, `file ${i}\n`)).toBe(201);
    }
    await signIn(page);
    await page.getByTestId('nav-access').getByRole('link', { name: 'Audit log' }).click();
    await expect(page.getByRole('heading', { name: 'Audit log', level: 1 })).toBeVisible();
    const entries = page.locator('#audit-entries tbody tr');

    // The token's creation and revocation by the admin, in the dashboard.
    await page.getByLabel('Actor').fill('admin');
    await page.getByLabel('Action').selectOption('token.create');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect(page).toHaveURL(/action=token.create/);
    const createdRow = entries.filter({ hasText: `${owner}/${tokenName}` });
    await expect(createdRow).toHaveCount(1);
    await expect(createdRow).toHaveAttribute('data-outcome', 'ok');
    await expect(createdRow).toHaveAttribute('data-actor', 'admin');
    await page.getByLabel('Action').selectOption('token.revoke');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect(entries.filter({ hasText: `${owner}/${tokenName}` })).toHaveAttribute('data-outcome', 'ok');

    // The token's uploads: ok on drop-a, denied on drop-b, each by its owner.
    await page.getByLabel('Actor').fill(owner);
    await page.getByLabel('Action').selectOption('artifact.upload');
    await page.getByLabel('Repository').selectOption('drop-b');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect(entries).toHaveCount(1);
    await expect(entries.first()).toHaveAttribute('data-outcome', 'denied');
    await expect(entries.first()).toContainText(`ci/${tokenName}.txt`);
    await page.getByLabel('Repository').selectOption('drop-a');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect(entries.filter({ hasText: `ci/${tokenName}.txt` })).toHaveAttribute('data-outcome', 'ok');
    // After the revocation the token names nobody: its attempts (one per
    // replica) are refused as anonymous.
    await page.getByLabel('Outcome').selectOption('denied');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect(entries).toHaveCount(0);
    await page.getByLabel('Actor').fill('');
    await page.getByRole('button', { name: 'Filter' }).click();
    for (const n of [2, 3]) {
      const refused = entries.filter({ hasText: `ci/${tokenName}-${n}.txt` });
      await expect(refused).toHaveAttribute('data-outcome', 'denied');
      await expect(refused).toHaveAttribute('data-actor', '');
    }
    await screen(page, '24-audit-filtered');

    // A time range after now matches nothing; one around now matches.
    await page.goto('/ui/audit?actor=' + owner);
    await expect(entries).not.toHaveCount(0);
    const iso = (d: Date): string => d.toISOString().slice(0, 16);
    await page.getByLabel('From (UTC)').fill(iso(new Date(Date.now() + 3_600_000)));
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect(page.getByText('No entry matches.')).toBeVisible();
    await page.getByLabel('From (UTC)').fill(iso(new Date(Date.now() - 3_600_000)));
    await page.getByLabel('Until (UTC)').fill(iso(new Date(Date.now() + 3_600_000)));
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect(entries).not.toHaveCount(0);

    // Paging: 53 uploads to drop-a (52 by the admin, 1 by the token) make two pages.
    await page.goto('/ui/audit?action=artifact.upload&remote=drop-a&outcome=ok');
    await expect(entries).toHaveCount(50);
    const firstPage = await entries.evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-id'))));
    await page.getByRole('link', { name: 'Older' }).click();
    await expect(page).toHaveURL(/before=\d+/);
    const rest = await entries.evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-id'))));
    expect(rest.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...rest)).toBeLessThan(Math.min(...firstPage));
    await expect(entries.filter({ hasText: `ci/${tokenName}.txt` })).toHaveCount(1);
    await screen(page, '25-audit-older');
    await page.getByRole('link', { name: 'Newest' }).click();
    await expect(entries).toHaveCount(50);
  });
});
