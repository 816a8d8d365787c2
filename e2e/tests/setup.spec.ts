import { test, expect, signIn, screen } from '../lib/fixtures';

const base = (): string => process.env.E2E_BASE_URL ?? '';
const host = (): string => new URL(base()).host;

test('each remote has a set-me-up card whose snippets name this server; copy copies the snippet', async ({ page, context }) => {
  await signIn(page);
  const cases: { remote: string; snippet: string; want: string }[] = [
    { remote: 'catalog', snippet: 'curl', want: `curl -fLO ${base()}/api/catalog/<path>` },
    { remote: 'uploads', snippet: 'curl', want: `-H "Authorization: Bearer $TOKEN" ${base()}/api/uploads/<path>` },
    { remote: 'images', snippet: 'docker', want: `docker push ${host()}/images/team/app:1.0` },
    { remote: 'mirror', snippet: 'rke2', want: `mirrors:\n  127.0.0.1:${new URL(base()).port}:\n    endpoint:\n      - "${base()}"\n    rewrite:\n      "^(.*)$": "mirror/$1"\n` },
    { remote: 'mirror', snippet: 'containerd', want: `[host."${base()}"]\n  capabilities = ["pull", "resolve"]` },
  ];
  for (const c of cases) {
    await page.goto(`/ui/remotes/${c.remote}`);
    const card = page.locator('#setup');
    await expect(card).toHaveAttribute('data-base', base());
    await card.getByRole('heading', { name: 'Set me up' }).click(); // opens the card
    const text = card.locator(`[data-snippet="${c.snippet}"] textarea`);
    await expect(text).toBeVisible();
    expect(await text.inputValue()).toContain(c.want);
  }

  // Its own page shows every snippet expanded; copy puts the snippet on the clipboard.
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.goto('/ui/remotes/mirror/setup');
  await expect(page.getByRole('heading', { name: 'Set me up: mirror' })).toBeVisible();
  const rke2 = page.locator('[data-snippet="rke2"]');
  await rke2.getByRole('button', { name: 'Copy the RKE2 / k3s snippet' }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(await rke2.locator('textarea').inputValue());
  await expect(rke2.getByRole('button', { name: 'Copy the RKE2 / k3s snippet' })).toHaveText('Copied');
  await screen(page, '25-setup');
});
