import { expect, test } from './fixtures';
import { END_USER, ORG_ADMIN, signIn } from './helpers';

/** Another mailbox of Acme Legal, the organisation of END_USER and ORG_ADMIN (server/src/seed/mod.rs). */
const COLLEAGUE = 'bruno.dubois@acme-legal.example';

test('a restore started from the portal shows in its list at once, and runs', async ({ page }) => {
  await signIn(page, END_USER);
  await page.goto('/status/restores');
  await page.getByRole('button', { name: 'New restore' }).click();
  const form = page.getByRole('form', { name: 'New restore' });
  await form.getByLabel('Inbox').check();
  await form.getByLabel('When a message is already there').selectOption({ label: 'Keep both' });
  await form.getByRole('button', { name: 'Start restore' }).click();

  const note = page.getByRole('status').filter({ hasText: 'is queued' });
  await expect(note).toHaveText(/^Restore R-[2-9A-Z]{8} is queued\./);
  const id = (await note.textContent())!.match(/R-[2-9A-Z]{8}/)![0];
  const row = page.locator('.backups-table__row', { hasText: id });
  await expect(row).toBeVisible();
  await expect(row).toContainText(`Inbox into ${END_USER} (keep both)`);
  await expect(row.locator('.status-badge')).toHaveText('Completed', { timeout: 20_000 });
});

test('a migration with a wrong destination is marked on the field, and nothing is started', async ({ page }) => {
  // Migrations are started by the organisation's admins, between its own mailboxes.
  await signIn(page, ORG_ADMIN);
  await page.goto('/status/migrates');
  await page.getByRole('button', { name: 'New migration' }).click();
  const form = page.getByRole('form', { name: 'New migration' });
  await form.getByLabel('Mailbox', { exact: true }).selectOption({ label: END_USER });
  await form.getByLabel('Migrate to (mailbox address)').fill('not an address');
  await form.getByRole('button', { name: 'Start migration' }).click();
  await expect(form.locator('#new-job-destination-error')).toHaveText('Enter the mailbox\'s address, like name@example.com.');
  await expect(form.getByLabel('Migrate to (mailbox address)')).toHaveAttribute('aria-invalid', 'true');
  // Correct it: the same form, what was typed kept, goes through into a colleague's mailbox.
  await form.getByLabel('Migrate to (mailbox address)').fill(COLLEAGUE);
  await form.getByRole('button', { name: 'Start migration' }).click();
  const note = page.getByRole('status').filter({ hasText: 'is queued' });
  await expect(note).toHaveText(/^Migration M-[2-9A-Z]{8} is queued\./);
  const id = (await note.textContent())!.match(/M-[2-9A-Z]{8}/)![0];
  await expect(page.locator('.backups-table__row', { hasText: id })).toContainText(COLLEAGUE);
});

test('a download in EML files is ready with its link', async ({ page }) => {
  await signIn(page, END_USER);
  await page.goto('/status/downloads');
  await page.getByRole('button', { name: 'New download' }).click();
  const form = page.getByRole('form', { name: 'New download' });
  await form.getByLabel('EML files in a zip').check();
  await form.getByRole('button', { name: 'Start download' }).click();
  const note = page.getByRole('status').filter({ hasText: 'is queued' });
  const id = (await note.textContent())!.match(/D-[2-9A-Z]{8}/)![0];
  const row = page.locator('.backups-table__row', { hasText: id });
  await expect(row.locator('.status-badge')).toHaveText('Completed', { timeout: 20_000 });
  const href = await row.getByRole('link', { name: 'Download', exact: true }).getAttribute('href');
  const file = await page.request.get(href!);
  expect(file.headers()['content-type']).toBe('application/zip');
});
