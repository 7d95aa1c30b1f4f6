import { expect, test } from './fixtures';
import { RESELLER, signIn } from './helpers';

// A real Dovecot, started by `cargo xtask test` with the demo mailboxes of `run --imap`:
// ann (mail in several folders, one message malformed), ben and cara (empty).
const IMAP_PORT = process.env.PORTAL_TEST_IMAP_PORT ?? '10143';
const IMAP_PASSWORD = 'imap-demo';
const ANN = 'ann@bluebird-imap.example';
const BEN = 'ben@bluebird-imap.example';

test('an IMAP mailbox added in the portal: the test names what is wrong, its backup lists what it skipped, a restore moves real mail', async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, RESELLER);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Mailboxes' }).click();
  await expect(page.getByRole('heading', { name: 'Mailboxes', level: 1 })).toBeVisible();
  await page.getByLabel('Organisation').selectOption({ label: 'Bluebird Clinics' });
  await expect(page).toHaveURL(/organisation=2/);

  const form = page.getByRole('form', { name: 'Add an IMAP mailbox' });
  const fill = async (user: string, port: string, password: string) => {
    await form.getByLabel('Mailbox address').fill(`${user}@bluebird-imap.example`);
    await form.getByLabel('Security').selectOption('plain');
    await form.getByLabel('IMAP server').fill('127.0.0.1');
    await form.getByLabel('Port').fill(port);
    await form.getByLabel('Username').fill(user);
    await form.getByLabel('Password').fill(password);
  };

  // Each failure on the field to change, in the mail server's own words.
  await fill('ann', IMAP_PORT, 'not-the-password');
  await form.getByRole('button', { name: 'Test connection' }).click();
  await expect(form.locator('#imap-password-error')).toContainText('the username or password was not accepted');
  await expect(form.getByRole('alert')).toContainText('422');
  await form.getByLabel('Port').fill('9');
  await form.getByLabel('Password').fill(IMAP_PASSWORD);
  await form.getByRole('button', { name: 'Test connection' }).click();
  await expect(form.locator('#imap-host-error')).toContainText('the connection was refused');
  await form.getByLabel('Port').fill(IMAP_PORT);
  await form.getByRole('button', { name: 'Test connection' }).click();
  await expect(form.getByRole('status')).toContainText(`Connection works. Signed in to 127.0.0.1:${IMAP_PORT} as ann;`);

  await form.getByRole('button', { name: 'Add mailbox' }).click();
  await expect(page.getByRole('status').filter({ hasText: `${ANN} is added.` })).toBeVisible();
  await fill('ben', IMAP_PORT, IMAP_PASSWORD);
  await form.getByRole('button', { name: 'Add mailbox' }).click();
  await expect(page.getByRole('status').filter({ hasText: `${BEN} is added.` })).toBeVisible();
  await expect(page.locator('.mailboxes-table .backups-table__row').filter({ hasText: ANN })).toContainText(`IMAP 127.0.0.1:${IMAP_PORT}`);

  // The backup reads real mail; the malformed message is skipped and listed.
  await page.goto(`/status/backups?q=${encodeURIComponent(ANN)}`);
  const row = page.locator('.backups-table__row').filter({ hasText: ANN });
  await expect(row.locator('.status-badge')).toHaveText('Partially Complete', { timeout: 30_000 });
  await row.getByRole('button', { name: 'Which messages were skipped?' }).click();
  await expect(row.getByRole('list', { name: 'Skipped messages' })).toContainText(/Work, UID \d+ — it could not be read as an email/);

  // A restore of one folder into another mailbox, chosen from the folders the backup holds.
  await page.goto('/status/restores');
  await page.getByRole('button', { name: 'New restore' }).click();
  const restore = page.getByRole('form', { name: 'New restore' });
  await restore.getByLabel('Mailbox', { exact: true }).selectOption({ label: ANN });
  await expect(restore.getByLabel('Archive/2024')).toBeVisible();
  await restore.getByLabel('Work').check();
  await restore.getByLabel('Another mailbox').check();
  await restore.getByLabel('Restore into (mailbox address)').fill(BEN);
  await restore.getByRole('button', { name: 'Start restore' }).click();
  const queued = page.getByRole('status').filter({ hasText: 'is queued' });
  const id = (await queued.textContent())!.match(/R-[2-9A-Z]{8}/)![0];
  await page.goto(`/status/restores/${id}`);
  await expect(page.locator('.job-page__status .status-badge')).toHaveText('Completed', { timeout: 30_000 });
  await expect(page.locator('.job-page__facts')).toContainText(`Work into ${BEN}`);
});
