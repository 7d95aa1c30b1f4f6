import { cpSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from './fixtures';
import { DEMO_PASSWORD, RESELLER } from './helpers';
import { OwnServer } from './own-server';

// A page opened before a new version of the portal was put in place, whose next page's code is
// gone with the old version: it must not die on a half-loaded app, but load the new version.

test('a page whose next chunk is gone with its version reloads into the new version', async ({ page }) => {
  const dist = mkdtempSync(join(tmpdir(), 'portal-dist-'));
  cpSync(process.env.PORTAL_DIST ?? 'dist', dist, { recursive: true });
  const server = await OwnServer.start({ PORTAL_DIST: dist });
  try {
    await page.goto(`${server.url}/sign-in`);
    await expect(page.getByLabel('Email address')).toBeEditable();
    const html = readFileSync(join(dist, 'index.html'), 'utf8');
    const old = /\/pkg\/([0-9a-f]{16})\//.exec(html)![1];

    // The new version: the same files under another build's name, the old one removed.
    const newer = 'f'.repeat(16);
    renameSync(join(dist, 'pkg', old), join(dist, 'pkg', newer));
    for (const name of readdirSync(dist).filter((n) => n.startsWith('index.html'))) rmSync(join(dist, name));
    writeFileSync(join(dist, 'index.html'), html.replaceAll(`/pkg/${old}/`, `/pkg/${newer}/`));

    // Signing in opens the dashboard, whose code was never fetched by this page.
    await page.getByLabel('Email address').fill(RESELLER);
    await page.getByLabel('Password').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible({ timeout: 15_000 });
    const scripts = await page.locator('script[type=module]').evaluateAll((all) => all.map((s) => s.getAttribute('src')));
    expect(scripts).toEqual([`/pkg/${newer}/start.js`]);
  } finally {
    await server.dispose();
    rmSync(dist, { recursive: true, force: true });
  }
});
