import { expect, test } from './fixtures';
import { ORG_ADMIN, signIn } from './helpers';

test('the dashboard counts each kind by status, and a count opens the filtered list', async ({ page }) => {
  await signIn(page, ORG_ADMIN);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
  await expect(page.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible();
  for (const kind of ['Backups', 'Migrates', 'Restores', 'Downloads']) {
    await expect(page.getByRole('heading', { name: kind, level: 2, exact: true })).toBeVisible();
  }
  await expect(page.getByText(/of 50\.0 GB used/)).toBeVisible();
  await expect(page.getByText(/account\(s\) without a complete backup for more than 24 h/)).toBeVisible();

  await page.locator('.dashboard__card').filter({ hasText: 'Backups' }).getByRole('link', { name: /Authentication Error \d+/ }).click();
  await expect(page).toHaveURL(/\/status\/backups\?status=authentication_error/);
  await expect(page.locator('.backups-table__row').first()).toHaveAttribute('data-status', 'authentication_error');
});
