import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';

import { expect, test } from './fixtures';
import type { Page } from './fixtures';
import { DEMO_PASSWORD, signIn } from './helpers';

// Account › Security: an authenticator app set up from its QR code's key, the recovery codes
// shown once, and from then on a second step when signing in; and a person's sessions, one
// ended from another browser, which finds itself signed out.

/** An end user without a second factor whom no other spec uses (the server seeds them). */
const SPARE_END_USER = 'bruno.dubois@acme-legal.example';
/** A user without a second factor; rate-limit.spec only spends its re-authentication attempts. */
const OTHER_RESELLER = 'reseller@harbour.example';
/** What the server calls a session signed in with this browser: "Firefox on Windows". */
const FIREFOX_ON_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';

const STEP_SECS = 30;

/** RFC 4648 base32 (spaces, padding and case ignored), as authenticator apps read a key. */
function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of text.toUpperCase().replace(/[\s=]/g, '')) {
    const value = alphabet.indexOf(char);
    if (value < 0) throw new Error(`not base32: ${char}`);
    buffer = ((buffer << 5) | value) & 0x1fff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >> bits) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** The code of one 30-second step (RFC 6238 over RFC 4226: HMAC-SHA1, six digits). */
function totp(secret: Buffer, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const hash = createHmac('sha1', secret).update(counter).digest();
  const offset = hash[hash.length - 1] & 0x0f;
  const binary = ((hash[offset] & 0x7f) << 24) | (hash[offset + 1] << 16) | (hash[offset + 2] << 8) | hash[offset + 3];
  return String(binary % 1_000_000).padStart(6, '0');
}

function stepNow(): number {
  return Math.floor(Date.now() / 1000 / STEP_SECS);
}

/** An authenticator app in the spec: each code is accepted once, so a code is taken only from
 * a step after the last one used (waiting for the next step when need be). */
class Authenticator {
  private lastUsed = -1;
  constructor(private readonly secret: Buffer) {}

  async freshCode(page: Page): Promise<string> {
    while (stepNow() <= this.lastUsed) await page.waitForTimeout(500);
    this.lastUsed = stepNow();
    return totp(this.secret, this.lastUsed);
  }

  /** Six digits that are none of the codes the server would take now. */
  wrongCode(): string {
    const near = [-1, 0, 1, 2].map((d) => totp(this.secret, stepNow() + d));
    for (let n = 0; ; n++) {
      const code = String((123456 + n * 7919) % 1_000_000).padStart(6, '0');
      if (!near.includes(code)) return code;
    }
  }
}

async function openSecurity(page: Page) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Security', exact: true }).click();
  await expect(page).toHaveURL(/\/account\/security$/);
  await expect(page.getByRole('heading', { name: 'Security', level: 1 })).toBeFocused();
}

async function overflowsSideways(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
}

test('an authenticator app set up in Account › Security, ten recovery codes shown once, then a code after the password at each sign-in', async ({
  page,
}) => {
  // Up to two waits for a new 30-second step.
  test.setTimeout(150_000);
  await page.setViewportSize({ width: 360, height: 740 });
  await signIn(page, SPARE_END_USER);
  await openSecurity(page);
  const section = page.getByRole('region', { name: 'Two-factor sign-in' });
  await expect(section).toContainText('Not set up');

  // The key, as a QR code drawn by our server and as text in groups of four.
  await section.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await expect(section.getByRole('heading', { name: 'Set up your authenticator app' })).toBeFocused();
  const qr = section.getByRole('img', { name: 'QR code of your authenticator key' });
  await expect(qr.locator('svg')).toBeVisible();
  const shown = (await page.getByTestId('totp-secret').textContent())!;
  expect(shown).toMatch(/^([A-Z2-7]{4} )*[A-Z2-7]{1,4}$/);
  const app = new Authenticator(base32Decode(shown));
  await expect(section.getByRole('button', { name: 'Copy authenticator key' })).toBeVisible();
  expect(await overflowsSideways(page), 'the setup is wider than a 360 px screen').toBe(false);

  // A wrong code is refused on its field, which takes the focus again.
  const field = section.getByLabel('The six-digit code your app shows now');
  await expect(field).toHaveAttribute('inputmode', 'numeric');
  await expect(field).toHaveAttribute('autocomplete', 'one-time-code');
  await field.fill(app.wrongCode());
  await section.getByRole('button', { name: 'Confirm' }).click();
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#totp-confirm-code-error')).not.toBeEmpty();
  await expect(field).toBeFocused();

  await field.fill(await app.freshCode(page));
  await section.getByRole('button', { name: 'Confirm' }).click();

  // Ten recovery codes, shown this once, to copy or download.
  const codesPanel = page.getByRole('region', { name: 'Save your recovery codes' });
  await expect(codesPanel.getByRole('heading', { name: 'Save your recovery codes' })).toBeFocused();
  await expect(codesPanel).toContainText('They will not be shown again.');
  const codes = (await codesPanel.getByRole('listitem').allTextContents()).map((code) => code.trim());
  expect(codes).toHaveLength(10);
  for (const code of codes) expect(code).toMatch(/^[a-z0-9]{5}-[a-z0-9]{5}$/i);
  await expect(codesPanel.getByRole('button', { name: 'Copy all recovery codes' })).toHaveText('Copy all');
  const downloading = page.waitForEvent('download');
  await codesPanel.getByRole('link', { name: 'Download as .txt' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe('backup-portal-recovery-codes.txt');
  const file = await readFile((await download.path())!, 'utf8');
  for (const code of codes) expect(file).toContain(code);
  expect(await overflowsSideways(page), 'the recovery codes are wider than a 360 px screen').toBe(false);
  await codesPanel.getByRole('button', { name: 'I have saved them' }).click();
  await expect(codesPanel).toHaveCount(0);
  await expect(page.getByRole('heading', { name: 'Two-factor sign-in' })).toBeFocused();
  await expect(section.locator('.two-factor__left')).toHaveText('10');

  // Signing in now takes a code after the password.
  await page.getByRole('button', { name: 'Sign out', exact: true }).first().click();
  await expect(page).toHaveURL(/\/sign-in$/);
  await page.getByLabel('Email address').fill(SPARE_END_USER);
  await page.getByLabel('Password').fill(DEMO_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const code = page.getByLabel('Code from your authenticator app');
  await expect(code).toBeFocused();
  await expect(code).toHaveAttribute('autocomplete', 'one-time-code');
  await expect(page).toHaveTitle('Sign in to Backup Portal · Backup Portal');
  await expect(page.getByRole('button', { name: 'Use a recovery code' })).toBeVisible();

  // Back to the password: the address is still there, the password takes the focus.
  await page.getByRole('button', { name: 'Back to email and password' }).click();
  await expect(page.getByLabel('Password')).toBeFocused();
  await expect(page.getByLabel('Email address')).toHaveValue(SPARE_END_USER);
  await page.getByLabel('Password').fill(DEMO_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(code).toBeFocused();

  // A wrong code is said where it was typed, with the request ID; the field is typed anew.
  await code.fill(app.wrongCode());
  await page.getByRole('button', { name: 'Sign in' }).click();
  const notice = page.getByRole('alert').filter({ hasText: '401 · ' });
  await expect(notice.locator('.error-notice__request-id')).toHaveText(/^[0-9a-f]{24}$/);
  await expect(notice.getByRole('group', { name: 'Sign in again' })).toHaveCount(0);
  await expect(code).toHaveAttribute('aria-invalid', 'true');
  await expect(code).toBeFocused();
  await expect(code).toHaveValue('');

  // A code of a step not used yet signs in (the one used to confirm is spent).
  await code.fill(await app.freshCode(page));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible();
  await expect(page).toHaveURL(/\/$/);

  // Removed again with a recovery code (which leaves the demo as it was).
  await openSecurity(page);
  await expect(section.locator('.two-factor__left')).toHaveText('10');
  await section.getByRole('button', { name: 'Remove authenticator app' }).click();
  const ask = section.getByRole('group', { name: 'Remove the authenticator app?' });
  await expect(ask).toBeFocused();
  await ask.getByLabel('Code from your authenticator app, or a recovery code').fill(codes[0]);
  await ask.getByRole('button', { name: 'Remove authenticator app' }).click();
  await expect(section.getByRole('status').filter({ hasText: 'The authenticator app is removed' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Two-factor sign-in' })).toBeFocused();
  await expect(section).toContainText('Not set up');
});

test('sessions: each is listed where the person is signed in, one is ended from another browser, and that one is signed out', async ({
  browser,
}) => {
  test.setTimeout(90_000);
  const here = await browser.newContext();
  const elsewhere = await browser.newContext({ userAgent: FIREFOX_ON_WINDOWS });
  try {
    const a = await here.newPage();
    const b = await elsewhere.newPage();
    await signIn(b, OTHER_RESELLER);
    await signIn(a, OTHER_RESELLER);
    await openSecurity(a);

    const sessions = a.getByRole('region', { name: 'Where you are signed in' });
    const current = sessions.getByRole('listitem').filter({ hasText: 'This browser' });
    await expect(current).toHaveCount(1);
    await expect(current.getByRole('button', { name: 'Sign out' })).toBeVisible();
    await expect(current.getByRole('button', { name: 'End session' })).toHaveCount(0);
    await expect(current).toContainText('Signed in');
    await expect(current.locator('.local-time__relative').first()).toHaveText(/just now|min ago/);

    const other = sessions.getByRole('listitem').filter({ has: a.getByRole('heading', { name: 'Firefox on Windows' }) });
    await expect(other).toHaveCount(1);
    await expect(other).not.toContainText('This browser');
    await other.getByRole('button', { name: 'End session' }).click();
    await expect(other).toHaveCount(0);
    // The focus stays in the list (the next row's button, or the list's heading), not lost to the page.
    await expect.poll(() => a.evaluate(() => document.activeElement?.closest('.sessions') !== null)).toBe(true);

    // The browser whose session ended is signed out at its next navigation.
    await b.goto('/status/backups');
    await expect(b).toHaveURL(/\/sign-in\?next=/);

    // Signed in there again, then signed out from here with every other session.
    await b.getByLabel('Email address').fill(OTHER_RESELLER);
    await b.getByLabel('Password').fill(DEMO_PASSWORD);
    await b.getByRole('button', { name: 'Sign in' }).click();
    await expect(b.getByRole('heading', { name: 'Backups', level: 1 })).toBeVisible();
    await a.reload();
    await expect(other).toHaveCount(1);
    const everywhere = sessions.getByRole('button', { name: 'Sign out everywhere else' });
    await everywhere.click();
    await expect(sessions.getByRole('status').filter({ hasText: /ended\.$/ })).toHaveText(/^(1 other session is|\d+ other sessions are) ended\.$/);
    await expect(everywhere).toBeFocused();
    await expect(other).toHaveCount(0);
    await expect(current).toHaveCount(1);
    await b.reload();
    await expect(b).toHaveURL(/\/sign-in/);

    // This browser is still signed in.
    await a.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard', exact: true }).click();
    await expect(a.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible();
  } finally {
    await here.close();
    await elsewhere.close();
  }
});
