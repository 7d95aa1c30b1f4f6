import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, IncomingHttpHeaders } from 'node:http';
import { AddressInfo } from 'node:net';
import { expect, Page, test } from './fixtures';
import { ORG_ADMIN, RESELLER } from './helpers';
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

/** Standard Webhooks, as a receiver checks it: HMAC-SHA256 under the key after `whsec_`, over
 * `id.timestamp.body`, and a timestamp within five minutes. */
function verified(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const id = headers['webhook-id'] as string;
  const timestamp = headers['webhook-timestamp'] as string;
  if (!id || !timestamp || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = Buffer.from(`v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`);
  return String(headers['webhook-signature'])
    .split(' ')
    .some((given) => given.length === expected.length && timingSafeEqual(Buffer.from(given), expected));
}

test.describe('on a server of its own', () => {
  const server = ownServerEach();

  test('a webhook: its secret shown once, a test event signed so that the receiver can check it', async ({ browser }) => {
    const received: { headers: IncomingHttpHeaders; body: string }[] = [];
    const receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        received.push({ headers: request.headers, body });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    try {
      const page = await signedIn(browser, server(), ORG_ADMIN);
      await openIntegrations(page);
      await page.getByLabel('Endpoint URL').fill(url);
      await page.getByLabel(/A backup failed/).check();
      await page.getByRole('button', { name: 'Add webhook' }).click();
      const panel = page.getByRole('region', { name: 'Copy the signing secret now' });
      await expect(panel.getByRole('heading', { name: 'Copy the signing secret now' })).toBeFocused();
      const secret = (await panel.locator('code').first().textContent())!.trim();
      expect(secret).toMatch(/^whsec_/);
      await panel.getByRole('button', { name: 'I have copied it' }).click();
      await expect(page.getByText(secret)).toHaveCount(0);

      await page.getByRole('button', { name: 'Send test event' }).click();
      await expect(page.getByText('Test event queued')).toBeVisible();
      await expect.poll(() => received.length, { timeout: 15_000 }).toBe(1);
      const [delivery] = received;
      expect(JSON.parse(delivery.body).type).toBe('webhook.test');
      expect(verified(secret, delivery.headers, delivery.body)).toBe(true);
      expect(verified(secret, delivery.headers, delivery.body.replace('test', 'tost'))).toBe(false);

      await page.getByRole('link', { name: 'Deliveries' }).first().click();
      const row = page.locator('tr').filter({ hasText: 'webhook.test' });
      await expect(row).toHaveAttribute('data-status', 'delivered');
      await row.getByRole('button', { name: 'Show 1 attempt' }).click();
      await expect(page.getByText('HTTP 204')).toBeVisible();
    } finally {
      receiver.close();
    }
  });

  test('a reseller sets one Halo up for every organisation it serves', async ({ browser }) => {
    const page = await signedIn(browser, server(), RESELLER);
    await openIntegrations(page);
    await page.getByLabel('Client secret').fill(HALO_SECRET);
    await page.getByLabel('Use this connection for every organisation I serve').check();
    await page.getByRole('button', { name: 'Save' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Saved for 3 organisation(s): Acme Legal, Bluebird Clinics, Cedar Logistics.' })).toBeVisible();
  });

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
