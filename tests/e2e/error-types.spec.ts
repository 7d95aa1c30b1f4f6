import { expect, test } from './fixtures';
import { RESELLER, signIn } from './helpers';

test('a backup error leads to its entry in the error types, grouped by service', async ({ page }) => {
  await signIn(page, RESELLER);
  await page.goto('/status/backups?status=connection_error');
  const row = page.locator('.backups-table__row').first();
  await row.getByRole('link', { name: 'About “The email backup has failed”' }).click();
  await expect(page).toHaveURL(/\/errors#email-backup-failed$/);
  await expect(page.getByRole('heading', { name: 'Error types', level: 1 })).toBeVisible();
  const entry = page.locator('#email-backup-failed');
  await expect(entry).toBeInViewport();
  await expect(entry).toContainText('What to do:');

  for (const group of ['Email', 'OneDrive', 'Contacts', 'Calendars', 'Tasks', 'Archive', 'Sign-in tokens (Account Settings › Credentials)']) {
    await expect(page.getByRole('heading', { name: group, level: 2, exact: true })).toBeVisible();
  }
  await expect(page.getByRole('heading', { level: 3 })).toHaveCount(17);
  await expect(page.getByRole('row').filter({ hasText: 'Google Workspace per-day limit reached' })).toContainText('throttled');
  // One click from every page, in the navigation.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Error types' }).click();
  await expect(page).toHaveURL(/\/errors$/);
});
