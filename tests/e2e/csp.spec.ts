import { readdirSync, readFileSync } from 'node:fs';
import { expect, Page, test } from './fixtures';

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
  // Only our own files: the built page has no inline script, so no hash either.
  expect(policy).toMatch(/script-src 'self' 'wasm-unsafe-eval';/);
  expect(policy).not.toContain("'sha256-");
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
  // The console's line about it, too: taken with the rest, or it would fail the test at its end.
  await expect.poll(() => csp.recorded().messages.length, { message: "the console's line about it" }).toBeGreaterThan(0);
  const { violations } = csp.take();
  expect(violations.map((v) => v.directive)).toContainEqual(expect.stringMatching(/^script-src/));
  expect(violations[0].blocked).toBe('inline');
});

test('a page that breaks the policy fails its test, naming the directive', async ({ page, csp }) => {
  await page.goto('/sign-in');
  await expect(page.getByRole('heading', { name: 'Sign in to Backup Portal' })).toBeVisible();
  csp.assertNone();
  // An inline style, as a progress bar's `style="width: …"` would be: refused and reported.
  await page.evaluate(() => document.body.setAttribute('style', 'outline: 1px solid red'));
  await expect
    .poll(async () => {
      await csp.collect();
      return csp.recorded().violations.length;
    }, { message: 'the violation the watch sees' })
    .toBeGreaterThan(0);
  // What the fixture runs at the end of every test fails, naming the directive.
  expect(() => csp.assertNone()).toThrow(/style-src/);
  // Taken (with the console's line about it) so that this test itself passes.
  await expect.poll(() => csp.recorded().messages.length, { message: "the console's line about it" }).toBeGreaterThan(0);
  csp.take();
  csp.assertNone();
});

/** Cuts the page's report to the test: what it refuses next is held only in the page. */
async function holdReportsInPage(page: Page) {
  await page.evaluate(() => {
    (window as unknown as Record<string, unknown>).__portalCspViolation = undefined;
  });
  expect(await page.evaluate(() => typeof (window as unknown as Record<string, unknown>).__portalCspViolation)).toBe('undefined');
}

test('what a page closed before the test ends holds is read as it closes', async ({ browser, csp }) => {
  const context = await browser.newContext();
  const inContext = await context.newPage();
  const alone = await browser.newPage();
  const closes: [Page, () => Promise<void>][] = [
    [inContext, () => context.close()],
    [alone, () => alone.close()],
  ];
  for (const [page, close] of closes) {
    await page.goto('/sign-in');
    await expect(page.getByRole('heading', { name: 'Sign in to Backup Portal' })).toBeVisible();
    await holdReportsInPage(page);
    await page.evaluate(() => document.body.setAttribute('style', 'outline: 1px solid red'));
    await page.waitForFunction(() => (window as unknown as { __cspViolations: unknown[] }).__cspViolations.length > 0);
    await expect.poll(() => csp.recorded().messages.length, { message: "the console's line about it" }).toBeGreaterThan(0);
    expect(csp.recorded().violations, 'nothing reported to the test yet').toEqual([]);
    await close();
    expect(page.isClosed()).toBe(true);
    expect(csp.recorded().violations.map((v) => v.directive)).toContainEqual(expect.stringMatching(/^style-src/));
    csp.take();
  }
});

test('every spec runs under the watch: none imports @playwright/test itself', () => {
  const specs = readdirSync(__dirname).filter((name) => name.endsWith('.ts') && name !== 'fixtures.ts' && name !== 'playwright.config.ts');
  const direct = specs.filter((name) => /from ['"]@playwright\/test['"]/.test(readFileSync(`${__dirname}/${name}`, 'utf8').replace(/import type [^;]+;/g, '')));
  expect(direct).toEqual([]);
});
