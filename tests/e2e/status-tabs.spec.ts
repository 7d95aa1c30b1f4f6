import { expect, test } from './fixtures';
import { DEMO_MAILBOX_PASSWORD, END_USER, ORG_ADMIN, RESELLER, signIn } from './helpers';

const TABS: [string, string, string[]][] = [
  ['migrates', 'Migration ID', ['On Queue', 'In Progress', 'Completed', 'Retrying', 'Cancelled', 'Failed', 'Connection Error', 'Authentication Error', 'Space Full', 'Partially Complete']],
  ['restores', 'Restore ID', ['On Queue', 'In Progress', 'Completed', 'Retrying', 'Cancelled', 'Failed', 'Connection Error', 'Authentication Error', 'Space Full', 'Partially Complete']],
  ['downloads', 'Download ID', ['On Queue', 'In Progress', 'Completed', 'Expired', 'Retrying', 'Cancelled', 'Failed']],
];

for (const [tab, idLabel, statuses] of TABS) {
  test(`System Status › ${tab}: every status, with its cause and what to do`, async ({ page }) => {
    await signIn(page, RESELLER);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: new RegExp(`^${tab}$`, 'i') }).click();
    await expect(page).toHaveURL(new RegExp(`/status/${tab}$`));
    await expect(page.getByRole('columnheader', { name: idLabel })).toBeVisible();
    const chips = page.getByRole('navigation', { name: 'Filter by status' });
    for (const status of statuses) {
      const chip = chips.getByRole('link', { name: new RegExp(`^${status} \\d+$`) });
      await expect(chip).toBeVisible();
      await chip.click();
      const first = page.locator('.backups-table__row').first();
      await expect(first.locator('.status-badge')).toHaveText(status);
      if (status === 'In Progress') {
        await expect(first.locator('progress')).toBeVisible();
        await expect(first.locator('.job-run__numbers')).toContainText(/\d+% · \d+ of \d+ items/);
      }
      if (!['Completed', 'In Progress'].includes(status)) {
        await expect(first.locator('.job-run__todo')).toContainText('What to do:');
      }
    }
  });
}

test('Try again puts a cancelled restore back on the queue', async ({ page }) => {
  await signIn(page, RESELLER);
  await page.goto('/status/restores?status=cancelled');
  const row = page.locator('.backups-table__row').first();
  const id = (await row.locator('code').textContent())!;
  await row.getByRole('button', { name: `Try again: ${id}` }).click();
  // The cancelled list no longer holds it; under its own ID it is queued again (or already running).
  await page.goto(`/status/restores?q=${id}`);
  await expect(page.locator('.backups-table__row .status-badge')).toHaveText(/On Queue|In Progress|Retrying|Completed/);
});

test('Edit on a restore the destination refused: a wrong password is refused again, the right one completes it', async ({ page }) => {
  await signIn(page, ORG_ADMIN);
  await page.goto('/status/restores?status=authentication_error');
  const id = (await page.locator('.backups-table__row code').first().textContent())!;
  await page.goto(`/status/restores?q=${id}`);
  const row = page.locator('.backups-table__row');
  await expect(row.locator('.job-run__todo')).toContainText('Choose Edit');

  await row.getByRole('button', { name: `Edit the destination password of ${id}` }).click();
  const save = row.getByRole('button', { name: 'Save and retry' });
  await save.click();
  await expect(row.locator('.field__error')).toHaveText("Enter the destination mailbox's password.");

  await row.getByLabel(/^Current password of /).fill('not-the-one');
  await save.click();
  // The restore ran again at once and the destination refused it again: its own words now.
  await expect(row.locator('.job-run__detail')).toContainText('LOGIN failed', { timeout: 20_000 });
  await expect(row.locator('.status-badge')).toHaveText('Authentication Error');

  await row.getByRole('button', { name: `Edit the destination password of ${id}` }).click();
  await row.getByLabel(/^Current password of /).fill(DEMO_MAILBOX_PASSWORD);
  // Another job changes meanwhile (a backup forced through the API) and the list is read
  // again: the form stays open, as typed.
  const updated = page.locator('.backups__updated');
  const before = await updated.textContent();
  const session = await (await page.request.get('/api/session')).json();
  const backups = await (await page.request.get('/api/backups?status=completed')).json();
  const forced = await page.request.post(`/api/backups/${backups.items[0].mailbox_id}/force`, {
    headers: { 'x-csrf-token': session.csrf_token },
  });
  expect(forced.status()).toBe(202);
  await expect(updated).not.toHaveText(before!, { timeout: 15_000 });
  await expect(row.getByLabel(/^Current password of /)).toHaveValue(DEMO_MAILBOX_PASSWORD);
  await save.click();
  await expect(row.locator('.status-badge')).toHaveText('Completed', { timeout: 20_000 });
  await expect(page.getByText(DEMO_MAILBOX_PASSWORD)).toHaveCount(0);
});

test('Request again on an expired download makes it ready again', async ({ page }) => {
  await signIn(page, RESELLER);
  await page.goto('/status/downloads?status=expired');
  const row = page.locator('.backups-table__row').first();
  const id = (await row.locator('code').textContent())!;
  await row.getByRole('button', { name: `Request again: ${id}` }).click();
  await page.goto(`/status/downloads?q=${id}`);
  await expect(page.locator('.backups-table__row .status-badge')).toHaveText('Completed', { timeout: 20_000 });
  await expect(page.locator('.jobs-table__expiry')).toContainText('in 7 d');

  // The link gives the file itself.
  const href = await page.getByRole('link', { name: 'Download', exact: true }).getAttribute('href');
  const file = await page.request.get(href!);
  expect(file.status()).toBe(200);
  expect(['application/mbox', 'application/zip']).toContain(file.headers()['content-type']);
});

test('a download link altered by hand is refused as a problem, not served', async ({ page }) => {
  await signIn(page, RESELLER);
  await page.goto('/status/downloads?status=completed');
  const href = await page.getByRole('link', { name: 'Download', exact: true }).first().getAttribute('href');
  const expired = href!.replace(/expires=\d+/, 'expires=1000');
  const response = await page.request.get(expired);
  // A changed expiry breaks the signature: not a link we made.
  expect(response.status()).toBe(404);
  expect(response.headers()['content-type']).toContain('application/problem+json');
});

test('a sorted, filtered tab opened fresh gives the same view', async ({ page }) => {
  await signIn(page, RESELLER);
  await page.goto('/status/migrates?q=acme&sort=mailbox');
  // The IDs as drawn (a live update may be redrawing the rows when they are first read).
  const drawnIds = () => page.locator('.backups-table__row code').allTextContents();
  await expect.poll(async () => (await drawnIds()).length).toBeGreaterThan(0);
  const ids = await drawnIds();
  await page.reload();
  await expect.poll(drawnIds).toEqual(ids);
  await expect(page.getByLabel('Sort')).toHaveValue('mailbox');
  const drawnMailboxes = () => page.locator('.backups-table__row .backups-table__email').allTextContents();
  await expect.poll(async () => (await drawnMailboxes()).length).toBeGreaterThan(0);
  const mailboxes = await drawnMailboxes();
  expect([...mailboxes].sort()).toEqual(mailboxes);
});

test('an end user sees only their own restores', async ({ page }) => {
  await signIn(page, END_USER);
  await page.goto('/status/restores');
  // Read once drawn: a live update may be redrawing the rows at that moment.
  const emails = page.locator('.backups-table__row .backups-table__email');
  await expect
    .poll(async () => {
      const mailboxes = await emails.allTextContents();
      return mailboxes.length > 0 && mailboxes.every((m) => m === END_USER) ? 'only hers' : mailboxes.join(', ');
    })
    .toBe('only hers');
});
