import { expect, test } from './fixtures';
import { RESELLER, signIn } from './helpers';

// With the keyboard alone: after a link of the main navigation, the focus is on the new page's
// heading (not lost to the top of the document), and the page's title names the page.
test('after a link of the main navigation, the focus is on the page heading and the title names the page', async ({ page }) => {
  await signIn(page, RESELLER);
  await expect(page).toHaveTitle('Backups · Backup Portal');
  for (const [link, heading] of [
    ['Restores', 'Restores'],
    ['Dashboard', 'Backup dashboard'],
    ['Error types', 'Error types'],
  ]) {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link, exact: true }).focus();
    await page.keyboard.press('Enter');
    await expect(page.getByRole('heading', { level: 1, name: heading })).toBeFocused();
    await expect(page).toHaveTitle(`${heading} · Backup Portal`);
  }
  // Tab goes on from the heading: to what follows it in the page, not back to the header.
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => document.activeElement?.closest('main') !== null)).toBe(true);
});

test('a page opened from a link of its own (a cold start) is named in the title', async ({ page }) => {
  await signIn(page, RESELLER);
  await page.goto('/settings/mailboxes');
  await expect(page).toHaveTitle('Mailboxes · Backup Portal');
});
