import { test, expect, signIn, listed, cache, screen } from '../lib/fixtures';

test('a form post without the CSRF token is refused with 403', async ({ page, request }) => {
  await cache(request, 'secured', 'files/csrf/victim-1.bin');
  await signIn(page);
  await page.goto('/ui/remotes/secured');

  // The browser's session cookie is sent, but no token.
  const noToken = await page.request.post('/ui/remotes/secured/bulk-evict', { form: { q: 'victim', confirm: 'yes' } });
  expect(noToken.status()).toBe(403);
  expect(await noToken.text()).toContain('CSRF token is missing or invalid');

  const wrong = await page.request.post('/ui/remotes/secured/evict', {
    form: { path: 'files/csrf/victim-1.bin', _csrf: 'forged' },
  });
  expect(wrong.status()).toBe(403);

  const fromScript = await page.evaluate(async () => {
    const r = await fetch('/ui/remotes/secured/evict', { method: 'POST', body: new URLSearchParams({ path: 'files/csrf/victim-1.bin' }) });
    return r.status;
  });
  expect(fromScript).toBe(403);
  expect(await listed(request, 'secured', 'victim')).toEqual(['files/csrf/victim-1.bin']);

  // With the page's token the same request is accepted.
  const token = await page.locator('meta[name="csrf-token"]').getAttribute('content');
  const ok = await page.request.post('/ui/remotes/secured/evict', {
    form: { path: 'files/csrf/victim-1.bin' }, headers: { 'X-CSRF-Token': token ?? '', 'HX-Request': 'true' },
  });
  expect(ok.status()).toBe(200);
  expect(await listed(request, 'secured', 'victim')).toEqual([]);
});

test('the page shows the refusal in place when its token is gone', async ({ page, request }) => {
  await cache(request, 'secured', 'files/csrf/other-2.bin');
  await signIn(page);
  await page.goto('/ui/remotes/secured');
  await page.evaluate(() => {
    document.body.setAttribute('hx-headers', '{}');
    document.querySelectorAll('input[name="_csrf"]').forEach((i) => i.remove());
  });
  await page.getByLabel('Path contains').fill('other');
  await page.getByRole('button', { name: 'Count matching' }).click();
  await expect(page.locator('#flash [role=alert]')).toContainText('CSRF token is missing or invalid');
  await expect(page.getByTestId('bulk-count')).toHaveCount(0);
  await screen(page, '16-csrf-refused');
  expect(await listed(request, 'secured', 'other')).toEqual(['files/csrf/other-2.bin']);
});

test('without a session a post is refused even with a token', async ({ page, playwright, baseURL }) => {
  await page.goto('/ui/login');
  const token = await page.locator('meta[name="csrf-token"]').getAttribute('content');
  const r = await page.request.post('/ui/remotes/secured/bulk-evict', { form: { q: '', _csrf: token ?? '' } });
  expect(r.status()).toBe(401);
  // A client with neither cookie nor token is refused first for the token.
  const bare = await playwright.request.newContext({ baseURL });
  expect((await bare.post('/ui/remotes/secured/bulk-evict', { form: { q: '' } })).status()).toBe(403);
  await bare.dispose();
});
