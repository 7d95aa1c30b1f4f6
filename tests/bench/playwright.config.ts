import { defineConfig } from '@playwright/test';

// Run by `cargo xtask bench` against a release server it starts (PORTAL_URL). Figures are
// printed as `BENCH name=value` lines for xtask to set against their budgets; nothing here
// fails on a slow figure (timings are not tests).
export default defineConfig({
  testDir: '.',
  testMatch: '*.bench.ts',
  timeout: 120_000,
  workers: 1,
  reporter: [['line']],
  outputDir: '../e2e/test-results/bench',
  use: {
    baseURL: process.env.PORTAL_URL ?? 'http://127.0.0.1:8080',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    },
  },
});
