import { expect, Page, test } from './fixtures';
import { ORG_ADMIN } from './helpers';
import { ownServerEach, signedIn } from './own-server';

// The HaloPSA built into the server (--psa embedded, at /halo): its API application, and the
// built-in identity provider's password for the Device Authorization that fixes Acme Legal.
const HALO_CLIENT_ID = 'backup-portal-halo';
const HALO_SECRET = 'demo-halo-secret';
const IDP_PASSWORD = 'idp-demo';

async function openIntegrations(page: Page) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Integrations' }).click();
  await expect(page.getByRole('heading', { name: 'Integrations', level: 1 })).toBeVisible();
}

test.describe('on a server of its own', () => {
  const server = ownServerEach();

  test('HaloPSA: a wrong secret is named on its field; a broken mailbox gets a ticket on its row, closed by itself after the fix', async ({ browser, context }) => {
    test.setTimeout(120_000);
    const page = await signedIn(browser, server(), ORG_ADMIN);
    await openIntegrations(page);

    // Set up as a new admin would: a wrong secret first, named on its field with Halo's 401.
    await page.getByLabel('Halo URL').fill(`${server().url}/halo`);
    await page.getByLabel('Client ID', { exact: true }).fill(HALO_CLIENT_ID);
    await page.getByLabel('Client secret').fill('not-the-secret');
    await page.getByLabel('Halo client ID').fill('1');
    await page.getByRole('button', { name: 'Test connection' }).click();
    await expect(page.getByLabel('Client secret')).toHaveAttribute('aria-invalid', 'true');
    await expect(page.locator('#halo-client-secret-error')).toContainText('HaloPSA answered 401');
    await page.getByLabel('Client secret').fill(HALO_SECRET);
    await page.getByRole('button', { name: 'Test connection' }).click();
    await expect(page.getByText('Connected: tickets will be filed under Acme Legal')).toBeVisible();
    await page.getByRole('button', { name: 'Save' }).click();
    await expect(page.getByText('Saved. Backup errors now open tickets in HaloPSA.')).toBeVisible();

    // Acme Legal's delegated token expired: a backup of a mailbox that needs it fails, and the
    // ticket it opened shows on the row.
    await page.goto('/status/backups?status=authentication_error');
    const row = page.locator('.backups-table__row').first();
    const email = (await row.locator('.backups-table__email').textContent())!.trim();
    await row.getByRole('button', { name: /^Force Backup of / }).click();
    const badge = page.locator('.backups-table__row').filter({ hasText: email }).locator('.ticket-badge');
    await expect(badge).toHaveText(/^Ticket #\d+ in HaloPSA$/, { timeout: 30_000 });
    const number = (await badge.textContent())!.match(/#(\d+)/)![1];

    // The fix: Device Authorization at the provider, then Verify & Continue.
    await page.goto('/settings/credentials');
    const device = page.getByRole('article', { name: 'Device Authorization' });
    await device.getByRole('button', { name: 'Device Authorization' }).click();
    const code = (await device.getByLabel('User code', { exact: true }).textContent())!;
    const provider = await context.browser()!.newPage({ baseURL: server().url });
    await provider.goto((await device.getByRole('link').first().getAttribute('href'))!);
    await provider.getByLabel('Code').fill(code);
    await provider.getByRole('button', { name: /continue|next|submit/i }).click();
    await provider.getByLabel(/email/i).fill('global.admin@acme-legal.example');
    await provider.getByLabel(/password/i).fill(IDP_PASSWORD);
    await provider.getByRole('button', { name: 'Approve' }).click();
    await expect(provider.getByText(/return to Backup Portal/i)).toBeVisible();
    await provider.close();
    const verify = device.getByRole('button', { name: 'Verify & Continue' });
    await expect(verify).toBeEnabled({ timeout: 20_000 });
    await verify.click();
    await expect(device.locator('.status-badge')).toHaveText('Working');

    // The backups run again; the one that failed completes and its ticket closes by itself.
    await page.goto(`/status/backups?q=${encodeURIComponent(email)}`);
    const fixed = page.locator('.backups-table__row').filter({ hasText: email });
    await expect(fixed.locator('.status-badge')).toHaveText('Completed', { timeout: 30_000 });
    await expect(fixed.locator('.ticket-badge')).toHaveCount(0, { timeout: 15_000 });
    const halo = await context.browser()!.newPage({ baseURL: server().url });
    await halo.goto('/halo');
    const ticket = halo.getByRole('listitem').filter({ hasText: `#${number} ` }).first();
    await expect(ticket).toContainText('Closed');
    await expect(ticket).toContainText('is resolved');
    await halo.close();

    // Every delivery is on the Deliveries page, delivered.
    await page.goto('/settings/deliveries');
    await expect(page.getByRole('heading', { name: 'Deliveries', level: 1 })).toBeVisible();
    await expect(page.locator('tr[data-status="delivered"]').filter({ hasText: email }).first()).toBeVisible();
  });
});
