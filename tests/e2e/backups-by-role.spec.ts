import { expect, test } from './fixtures';
import { END_USER, mailboxIds, ORG_ADMIN, RESELLER, signIn } from './helpers';

test('the portal opens on the sign-in page', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveURL(/\/sign-in$/);
  await expect(page.getByRole('heading', { name: 'Sign in to Backup Portal' })).toBeVisible();
});

test('an end user sees only their own mailbox', async ({ page }) => {
  await signIn(page, END_USER);
  expect(await mailboxIds(page)).toEqual([END_USER]);
  await expect(page.getByRole('columnheader', { name: 'Organisation' })).toHaveCount(0);
  await expect(page.getByText('End user · alice.archer@acme-legal.example')).toBeVisible();
});

test('an organisation admin sees every mailbox of their organisation, and no other', async ({ page }) => {
  await signIn(page, ORG_ADMIN);
  const ids = await mailboxIds(page);
  expect(ids).toHaveLength(20);
  for (const id of ids) expect(id).toMatch(/@acme-legal\.example$/);
  await expect(page.locator('.pager__summary')).toHaveText('1–20 of 20 mailboxes');
  // Several statuses, each as a badge.
  await expect(page.locator('.status-badge', { hasText: 'Authentication Error' }).first()).toBeVisible();
  await expect(page.locator('.status-badge', { hasText: 'Completed' }).first()).toBeVisible();
});

test('a reseller sees the organisations it serves, paged, and no other reseller\'s', async ({ page }) => {
  await signIn(page, RESELLER);
  const ids = await mailboxIds(page);
  expect(ids).toHaveLength(50);
  await expect(page.locator('.pager__summary')).toHaveText('1–50 of 61 mailboxes');
  await expect(page.getByRole('columnheader', { name: 'Organisation' })).toBeVisible();
  await page.getByRole('link', { name: 'Next' }).click();
  await expect(page.locator('.pager__summary')).toHaveText('51–61 of 61 mailboxes');
  await expect(page).toHaveURL(/page=2/);
  const all = [...ids, ...(await mailboxIds(page))];
  expect(new Set(all).size).toBe(61);
  for (const id of all) expect(id).not.toMatch(/delta-foods/);
});

test('a filtered view lives in the URL and survives a fresh load', async ({ page }) => {
  await signIn(page, RESELLER);
  await page.getByLabel('Status').selectOption({ label: 'Space Full' });
  await expect(page).toHaveURL(/status=space_full/);
  await expect(page.locator('.backups-table__row').first()).toBeVisible();
  const filtered = await mailboxIds(page);
  expect(filtered.length).toBeGreaterThan(0);
  await expect(page.locator('.backups-table__row:not([data-status="space_full"])')).toHaveCount(0);

  await page.goto(page.url());
  expect(await mailboxIds(page)).toEqual(filtered);
  await expect(page.getByLabel('Status')).toHaveValue('space_full');

  await page.getByLabel('Search').fill('cedar');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(/q=cedar/);
  for (const id of await mailboxIds(page)) expect(id).toMatch(/@cedar-logistics\.example$/);
});

test('an account shows its last 30 backups as a chart, and Space Full shows the storage numbers', async ({ page }) => {
  await signIn(page, ORG_ADMIN);
  await page.goto('/status/backups?status=space_full');
  const row = page.locator('.backups-table__row').first();
  await expect(row.locator('.job-run__storage')).toHaveText(/^Storage: [\d.]+ GB used of 50\.0 GB \(1\d\d%\)\.$/);

  const toggle = row.getByRole('button', { name: /^Last 30 backups of / });
  await expect(toggle).toHaveAttribute('aria-expanded', 'false');
  await toggle.click();
  await expect(row.getByRole('button', { name: /^Hide history/ })).toHaveAttribute('aria-expanded', 'true');
  const chart = row.getByRole('img', { name: /^Bar chart of the last 30 backups\./ });
  await expect(chart).toBeVisible();
  await expect(chart.locator('rect')).toHaveCount(30);
  // The newest run (right) is the one that stopped on Space Full; the caption counts in words.
  await expect(chart.locator('rect').last()).toHaveClass(/backup-history__bar--danger/);
  await expect(chart.locator('rect').last().locator('title')).toContainText('Space Full');
  await expect(row.locator('.backup-history__caption')).toContainText('space full');
});
