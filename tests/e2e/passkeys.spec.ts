import { expect, test } from './fixtures';
import type { BrowserContext, CDPSession, Page } from './fixtures';
import { DEMO_PASSWORD } from './helpers';
import { ownServerEach } from './own-server';

// Passkeys, with Chromium's virtual authenticator (DevTools protocol, WebAuthn domain): one
// registered in Account › Security, then used as the second factor after the password, then
// alone (its owner allowed it), then removed. Browsers tie a passkey to a host name, never an
// IP address: the pages are opened at localhost, the server's relying party for loopback.

const USER = 'bruno.dubois@acme-legal.example';

test.describe('passkeys', () => {
  const server = ownServerEach();
  let context: BrowserContext | undefined;

  test.afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  /** A page at localhost with a platform authenticator that has a PIN or fingerprint, and
   * whose user is always present and verified. */
  async function withAuthenticator(browser: import('./fixtures').Browser): Promise<{ page: Page; cdp: CDPSession; authenticatorId: string }> {
    context = await browser.newContext({ baseURL: server().url.replace('127.0.0.1', 'localhost') });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    return { page, cdp, authenticatorId };
  }

  async function signInWithPassword(page: Page) {
    await page.goto('/sign-in');
    await page.getByLabel('Email address').fill(USER);
    await page.getByLabel('Password').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  async function signOut(page: Page) {
    await page.getByRole('button', { name: 'Sign out' }).first().click();
    await expect(page).toHaveURL(/\/sign-in/);
  }

  test('a passkey is registered, signs in after the password and alone, and is removed', async ({ browser }) => {
    const { page, cdp, authenticatorId } = await withAuthenticator(browser);
    await signInWithPassword(page);
    await expect(page.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible();

    await page.goto('/account/security');
    const section = page.getByRole('region', { name: 'Passkeys and security keys' });
    await expect(section.getByText('No passkey yet.')).toBeVisible();
    // A name is asked for, and said so where it is typed.
    await section.getByRole('button', { name: 'Add a passkey' }).click();
    await expect(section.getByLabel('Name')).toBeFocused();
    await expect(section.getByText('Give the passkey a name of 1 to 60 characters')).toBeVisible();
    await section.getByLabel('Name').fill('Work laptop');
    await section.getByLabel('Let it sign me in on its own, without my password').check();
    await section.getByRole('button', { name: 'Add a passkey' }).click();

    // The first second factor brings recovery codes, shown once.
    await expect(page.getByRole('heading', { name: 'Save your recovery codes' })).toBeFocused();
    await expect(page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem')).toHaveCount(10);
    await page.getByRole('button', { name: 'I have saved them' }).click();
    const item = section.getByRole('listitem').filter({ hasText: 'Work laptop' });
    await expect(item).toBeVisible();
    await expect(item.getByText('Signs in on its own')).toBeVisible();
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0].isResidentCredential).toBe(true);

    // The password, then the passkey.
    await signOut(page);
    await signInWithPassword(page);
    await expect(page.getByText('use your passkey or enter a code')).toBeVisible();
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await expect(page.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible();

    // The passkey alone.
    await signOut(page);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await expect(page.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible();

    // Its use is shown, and it can be made to wait for the password again.
    await page.goto('/account/security');
    await expect(item.getByText('never')).toHaveCount(0);
    await item.getByRole('button', { name: 'Ask for my password first' }).click();
    await expect(page.getByText('“Work laptop” now signs you in only after your password.')).toBeVisible();
    await expect(item.getByText('Signs in on its own')).toHaveCount(0);
    await signOut(page);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await expect(page.getByRole('alert')).toContainText('cannot sign you in on its own');

    // Removed: asked first; after it, the password is enough again.
    await signInWithPassword(page);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await expect(page.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible();
    await page.goto('/account/security');
    await item.getByRole('button', { name: 'Remove' }).click();
    await item.getByRole('button', { name: 'Remove passkey' }).click();
    await expect(page.getByText('The passkey is removed')).toBeVisible();
    await expect(section.getByText('No passkey yet.')).toBeVisible();
    await signOut(page);
    await signInWithPassword(page);
    await expect(page.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible();
  });

  test('at an IP address the page sends the person to the address passkeys work at', async ({ browser }) => {
    context = await browser.newContext({ baseURL: server().url });
    const page = await context.newPage();
    await page.goto('/sign-in');
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    const there = server().url.replace('127.0.0.1', 'localhost');
    await expect(page.getByRole('link', { name: `Open the portal at ${there}` })).toHaveAttribute('href', `${there}/sign-in`);
  });
});
