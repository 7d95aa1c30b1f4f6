import { readdirSync, readFileSync } from 'node:fs';
import { expect, test } from './fixtures';

// The portal runs under a strict Content-Security-Policy, and every spec fails when a page
// breaks it (fixtures.ts). These prove both: the policy is sent and enforced, and the watch
// that fails the specs does see a refusal.

test('the portal is sent with a strict policy, runs under it, and what it blocks is recorded', async ({ page, csp }) => {
  const response = await page.goto('/');
  const policy = response!.headers()['content-security-policy'];
  expect(policy, 'the Content-Security-Policy header of /').toBeTruthy();
  for (const directive of ["default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"]) {
    expect(policy).toContain(directive);
  }
  expect(policy).toMatch(/script-src 'self' 'wasm-unsafe-eval' 'sha256-[A-Za-z0-9+/]+=*'/);
  expect(policy).not.toContain('unsafe-inline');
  expect(policy).not.toContain("'unsafe-eval'");
  // The portal itself ran under it: the wasm started and drew the sign-in page.
  await expect(page.getByRole('heading', { name: 'Sign in to Backup Portal' })).toBeVisible();
  expect(csp.recorded().violations).toEqual([]);

  // A script written into the page, as an injection would be, is refused and reported.
  const ran = await page.evaluate(async () => {
    const script = document.createElement('script');
    script.textContent = 'window.__injectedScriptRan = true;';
    document.head.append(script);
    await new Promise((resolve) => setTimeout(resolve, 100));
    return (window as unknown as { __injectedScriptRan?: boolean }).__injectedScriptRan === true;
  });
  expect(ran, 'an inline script ran').toBe(false);
  const inPage = await page.evaluate(() => (window as unknown as { __cspViolations: { directive: string }[] }).__cspViolations);
  expect(inPage.length, 'the violations recorded in the page').toBeGreaterThan(0);
  await expect.poll(() => csp.recorded().violations.length, { message: 'the violations the test sees' }).toBeGreaterThan(0);
  await page.waitForTimeout(300); // the console's line about it, too
  const { violations } = csp.take();
  expect(violations.map((v) => v.directive)).toContainEqual(expect.stringMatching(/^script-src/));
  expect(violations[0].blocked).toBe('inline');
});

test('a test in which a page breaks the policy fails (this one must fail)', async ({ page }) => {
  test.fail(true, 'the CSP watch fails a test whose page broke the policy');
  await page.goto('/sign-in');
  await expect(page.getByRole('heading', { name: 'Sign in to Backup Portal' })).toBeVisible();
  // An inline style, as a progress bar's `style="width: …"` would be: refused, and the test fails at its end.
  await page.evaluate(() => document.body.setAttribute('style', 'outline: 1px solid red'));
  // Only waits for the report; without one (no policy) the test passes, which test.fail counts as wrong.
  await page.waitForFunction(() => (window as unknown as { __cspViolations: unknown[] }).__cspViolations.length > 0, null, { timeout: 5_000 }).catch(() => {});
});

test('every spec runs under the watch: none imports @playwright/test itself', () => {
  const specs = readdirSync(__dirname).filter((name) => name.endsWith('.ts') && name !== 'fixtures.ts' && name !== 'playwright.config.ts');
  const direct = specs.filter((name) => /from ['"]@playwright\/test['"]/.test(readFileSync(`${__dirname}/${name}`, 'utf8').replace(/import type [^;]+;/g, '')));
  expect(direct).toEqual([]);
});
