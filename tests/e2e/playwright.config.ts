import { defineConfig } from '@playwright/test';

// Run by `cargo xtask test`, which starts a server with a fresh database and passes its
// address in PORTAL_URL. Debian's Chromium: Playwright never downloads a browser here.
const baseURL = process.env.PORTAL_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  testDir: '.',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    baseURL,
    trace: 'off',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
});
