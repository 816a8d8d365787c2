import { test, expect, signIn, screen } from '../lib/fixtures';
import { UPSTREAM_PASSWORD, UPSTREAM_USER } from '../lib/origin';

const secrets = (): string[] => JSON.parse(process.env.E2E_SECRETS ?? '[]');

test('the configuration page shows the effective configuration and no secret', async ({ page }) => {
  await signIn(page);
  await page.getByRole('link', { name: 'Configuration' }).click();
  await expect(page.getByRole('heading', { name: 'Configuration' })).toBeVisible();
  const secured = page.locator('#cfg-secured');
  await expect(secured).toContainText(UPSTREAM_USER);
  await expect(secured).toContainText('set · hidden');
  await page.getByText('Raw document').click();
  await expect(page.getByTestId('config-json')).toContainText('"password": "REDACTED"');

  expect(secrets().length).toBe(3);
  const html = await page.content();
  const text = await page.locator('body').innerText();
  for (const s of secrets()) {
    expect(s.length).toBeGreaterThan(8);
    expect(html).not.toContain(s);
    expect(text).not.toContain(s);
  }
  expect(html).not.toContain(UPSTREAM_PASSWORD);
  await screen(page, '08-config');
});

test('the pattern tester gives the three verdicts and the deciding pattern', async ({ page }) => {
  await signIn(page);
  await page.goto('/ui/config');
  const remote = page.getByLabel('Repository', { exact: true });
  const path = page.getByLabel('Path (after the repository name)');
  const verdict = page.getByTestId('verdict');
  const test = page.getByRole('button', { name: 'Test' });

  await remote.selectOption('catalog');
  await path.fill('files/v1.2/tool_linux_amd64.bin');
  await test.click();
  await expect(verdict).toHaveAttribute('data-kind', 'immutable');
  await expect(page.getByTestId('verdict-pattern')).toHaveText('^files/.*\\.bin$');
  await expect(verdict).toContainText('immutable_patterns');

  await path.fill('files/index.json');
  await test.click();
  await expect(verdict).toHaveAttribute('data-kind', 'mutable');
  await expect(page.getByTestId('verdict-pattern')).toHaveText('index\\.json$');
  await expect(verdict).toContainText('mutable_patterns');

  await path.fill('docs/readme.txt');
  await test.click();
  await expect(verdict).toHaveAttribute('data-kind', 'denied');
  await expect(verdict).toContainText('no pattern matches');
  await screen(page, '09-pattern-tester');

  // A path a request could not use is explained, not classified.
  await path.fill('files/../../etc/passwd');
  await test.click();
  await expect(page.locator('#tester-result [role=alert]')).toContainText("'..' segment not allowed");

  // A local repository without patterns allows everything as immutable.
  await remote.selectOption('uploads');
  await path.fill('anything/at/all.tgz');
  await test.click();
  await expect(verdict).toHaveAttribute('data-kind', 'immutable');
  await expect(verdict).toContainText('no immutable_patterns');
});
