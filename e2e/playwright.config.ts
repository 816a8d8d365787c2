// Playwright runs the dashboard suite against a real artifactapi (PostgreSQL,
// Redis, MinIO) and a local origin, both started by global-setup.ts. Run it
// through scripts/e2e.sh under scripts/with-services.sh.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  globalSetup: './global-setup.ts',
  // One instance is shared: tests use separate repositories but run one at a
  // time so that screenshots and counts are deterministic.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  // A stray test.only must fail the run, never narrow it silently.
  forbidOnly: true,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [['list']],
  use: {
    baseURL: process.env.E2E_BASE_URL,
    viewport: { width: 1280, height: 860 },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
});
