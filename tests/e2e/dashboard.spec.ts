import { expect, test } from './fixtures';
import { ORG_ADMIN, RESELLER, signIn } from './helpers';

test('the dashboard counts each kind by status, and a count opens the filtered list', async ({ page }) => {
  await signIn(page, ORG_ADMIN);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
  await expect(page.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible();
  for (const kind of ['Backups', 'Migrates', 'Restores', 'Downloads']) {
    await expect(page.getByRole('heading', { name: kind, level: 2, exact: true })).toBeVisible();
  }
  await expect(page.getByText(/of 50\.0 GB used \(/)).toBeVisible();
  await expect(page.getByText(/account\(s\) without a complete backup for more than 24 h/)).toBeVisible();

  await page.locator('.dashboard__card').filter({ hasText: 'Backups' }).getByRole('link', { name: /Authentication Error \d+/ }).click();
  await expect(page).toHaveURL(/\/status\/backups\?status=authentication_error/);
  await expect(page.locator('.backups-table__row').first()).toHaveAttribute('data-status', 'authentication_error');
});

test('a credential that runs out within two weeks is named on the dashboard, with the way to renew it', async ({ page }) => {
  await signIn(page, RESELLER);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
  const notice = page.getByRole('status').filter({ hasText: 'Renew soon' });
  const item = notice.getByRole('listitem').filter({ hasText: 'Bluebird Clinics · Device Authorization' });
  await expect(item).toContainText(/expires .*in (9|10) d/);
  await item.getByRole('link', { name: 'Device Authorization' }).click();
  await expect(page).toHaveURL(/\/settings\/credentials\?organisation=2#device/);
  await expect(page.getByRole('article', { name: 'Device Authorization' }).locator('.status-badge')).toHaveText('Working');
});
