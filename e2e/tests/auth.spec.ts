import { test, expect, screen, adminToken } from '../lib/fixtures';

test('the dashboard sends a signed-out browser to the sign-in page', async ({ page }) => {
  await page.goto('/ui/');
  await expect(page).toHaveURL(/\/ui\/login$/);
  await page.goto('/ui/config');
  await expect(page).toHaveURL(/\/ui\/login\?next=%2Fui%2Fconfig$/);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await screen(page, '01-login');
});

test('a wrong token is refused and the right one admitted', async ({ page, context }) => {
  await page.goto('/ui/login');
  await page.getByLabel('Password or token').fill('not-the-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('That is not the admin token, nor a valid API token or user name and password.');
  expect((await context.cookies()).find((c) => c.name === 'artifactapi_session')).toBeUndefined();
  await screen(page, '02-login-refused');

  await page.getByLabel('Password or token').fill(adminToken());
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
  const session = (await context.cookies()).find((c) => c.name === 'artifactapi_session');
  expect(session?.httpOnly).toBe(true);
  expect(session?.sameSite).toBe('Strict');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/ui\/login$/);
  await page.goto('/ui/');
  await expect(page).toHaveURL(/\/ui\/login$/);
});

test('after signing in, the page asked for is shown', async ({ page }) => {
  await page.goto('/ui/config');
  await page.getByLabel('Password or token').fill(adminToken());
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Configuration' })).toBeVisible();
});
