import { expect, test } from './fixtures';
import type { Page } from './fixtures';
import { END_USER, ORG_ADMIN, signIn } from './helpers';

// API tokens (Account Settings › API tokens) and the activity log (Account Settings ›
// Activity): a token made in the portal is shown once, works in the API on its own (no cookie,
// no CSRF token) within its access level, and stops at once when revoked; what it and its owner
// did is in Activity. An end user is offered neither page.

interface BackupRow {
  mailbox_id: number;
  mailbox_email: string;
  status: string;
}

/** A backup that is running: Force Backup answers 409 for it. */
const RUNNING = ['preparing_backup', 'in_progress'];

async function openFromNav(page: Page, link: string) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: link, exact: true }).click();
  await expect(page.getByRole('heading', { name: link, level: 1 })).toBeVisible();
}

/** The Activity filter in the page's address. */
function filterIn(page: Page): { path: string; action: string | null; q: string | null } {
  const url = new URL(page.url());
  return { path: url.pathname, action: url.searchParams.get('action'), q: url.searchParams.get('q') };
}

/** Whether the page is wider than the window (something to scroll sideways). */
async function overflowsSideways(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
}

test('a token made in the portal is shown once, acts in the API until revoked, and Activity says who did what', async ({
  page,
  playwright,
  baseURL,
}) => {
  test.setTimeout(90_000);
  await signIn(page, ORG_ADMIN);
  await openFromNav(page, 'API tokens');

  // What the server refuses is named on its field, which takes the focus.
  await page.getByRole('button', { name: 'Create token' }).click();
  const nameField = page.getByLabel('Name', { exact: true });
  await expect(nameField).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#token-name-error')).not.toBeEmpty();
  await expect(nameField).toBeFocused();

  const name = `PSA sync ${Date.now()}`;
  await nameField.fill(name);
  await expect(page.getByLabel('Read only')).toBeChecked();
  await page.getByLabel('Read and act').check();
  await expect(page.getByLabel('Expires in')).toHaveValue('90');
  await page.getByRole('button', { name: 'Create token' }).click();

  // Shown once, in a panel that takes the focus, with an example of its use.
  const panel = page.getByRole('region', { name: 'Copy your token now' });
  await expect(panel.getByRole('heading', { name: 'Copy your token now' })).toBeFocused();
  await expect(panel).toContainText('You will not see it again');
  const token = (await panel.locator('.token-secret__value code').textContent())!.trim();
  expect(token).toMatch(/^bpt_[0-9a-f]{16,}$/);
  await expect(panel.locator('.token-secret__example code')).toHaveText(
    `curl -H "Authorization: Bearer ${token}" ${baseURL}/api/backups?status=connection_error`,
  );
  await expect(panel.getByRole('button', { name: 'Copy API token' })).toBeVisible();
  await expect(nameField).toHaveValue('');
  await panel.getByRole('button', { name: 'Done' }).click();
  await expect(panel).toHaveCount(0);
  await expect(page.getByText(token)).toHaveCount(0);

  // Listed, and the focus on it: active, read and act, its first characters, who owns it.
  const item = page.locator('.token').filter({ has: page.getByRole('heading', { name, exact: true }) });
  await expect(item.getByRole('heading', { name, exact: true })).toBeFocused();
  await expect(item.locator('.status-badge')).toHaveText('Active');
  await expect(item).toContainText('Read and act');
  await expect(item.locator('.token__prefix')).toHaveText(`${token.slice(0, 12)}…`);
  await expect(item.locator('.token__owner')).toHaveText(ORG_ADMIN);
  await expect(item).toContainText('Never used');
  await expect(item).toContainText(/in (90|89) d/);

  // The token alone, as a script sends it: no cookie, no CSRF token.
  const script = await playwright.request.newContext({ baseURL, extraHTTPHeaders: { Authorization: `Bearer ${token}` } });
  try {
    // The panel's example, as given.
    const example = await script.get('/api/backups?status=connection_error');
    expect(example.status()).toBe(200);
    for (const row of (await example.json()).items as BackupRow[]) expect(row.status).toBe('connection_error');
    const listed = await script.get('/api/backups?per_page=200');
    expect(listed.status()).toBe(200);
    const rows: BackupRow[] = (await listed.json()).items;
    const idle = rows.filter((row) => !RUNNING.includes(row.status));
    expect(idle.length, 'a mailbox whose backup is not running').toBeGreaterThan(0);
    // An `act` token may Force Backup. A backup the demo started meanwhile answers 409 (not a
    // refusal of the token): the next mailbox is tried.
    let forced: BackupRow | undefined;
    for (const row of idle.slice(0, 5)) {
      const force = await script.post(`/api/backups/${row.mailbox_id}/force`);
      expect([202, 409], `Force Backup of ${row.mailbox_email} with the token`).toContain(force.status());
      if (force.status() === 202) {
        forced = row;
        break;
      }
    }
    expect(forced, 'a Force Backup the token started').toBeTruthy();

    // Its last use shows once the list is read again (opening the page anew).
    await page.reload();
    await expect(item.locator('.token__from')).toBeVisible();
    await expect(item).not.toContainText('Never used');

    // Revoke asks first; Keep it gives the focus back to Revoke.
    const revoke = item.getByRole('button', { name: 'Revoke', exact: true });
    await revoke.click();
    const confirm = item.getByRole('group', { name: 'Revoke this token?' });
    await expect(confirm).toBeFocused();
    await confirm.getByRole('button', { name: 'Keep it' }).click();
    await expect(revoke).toBeFocused();
    await revoke.click();
    await confirm.getByRole('button', { name: 'Revoke token' }).click();
    // Revoked at once, where it was, the focus on its name.
    await expect(item.locator('.status-badge')).toHaveText('Revoked');
    await expect(item).toHaveAttribute('data-state', 'revoked');
    await expect(item.getByRole('status')).toContainText('gets 401');
    await expect(item.getByRole('heading', { name, exact: true })).toBeFocused();
    await expect(item.getByRole('button', { name: 'Revoke', exact: true })).toHaveCount(0);

    // From the next request on, the token answers 401.
    expect((await script.get('/api/backups')).status()).toBe(401);
    expect((await script.post(`/api/backups/${forced!.mailbox_id}/force`)).status()).toBe(401);

    // Activity: the token's creation and revocation by its owner, and the Force Backup it did.
    await openFromNav(page, 'Activity');
    await page.getByLabel('Search').fill(name);
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => filterIn(page)).toEqual({ path: '/settings/activity', action: null, q: name });
    const entries = page.locator('.activity-table__row');
    await expect(entries).toHaveCount(3);
    // Newest first.
    await expect(entries.locator('.activity-table__action')).toHaveText(['API token revoked', 'Force Backup', 'API token created']);
    const byToken = entries.filter({ hasText: 'Force Backup' });
    await expect(byToken.locator('.activity-table__token')).toHaveText(`via token “${name}”`);
    await expect(byToken.locator('.activity-table__actor')).toHaveText(ORG_ADMIN);
    await expect(byToken).toContainText(forced!.mailbox_email);
    await expect(byToken.locator('.activity-table__request-id')).toHaveText(/^[0-9a-f]{24}$/);
    const created = entries.filter({ hasText: 'API token created' });
    await expect(created.locator('.activity-table__token')).toHaveCount(0);
    await expect(created).toContainText(name);

    // The action filter goes into the address too, and the CSV link carries both.
    await page.getByLabel('What was done').selectOption({ label: 'API token revoked' });
    await expect.poll(() => filterIn(page)).toEqual({ path: '/settings/activity', action: 'token.revoked', q: name });
    await expect(entries).toHaveCount(1);
    await expect(entries.locator('.activity-table__action')).toHaveText('API token revoked');
    const exportLink = page.getByRole('link', { name: 'Export CSV' });
    const href = (await exportLink.getAttribute('href'))!;
    expect(href).toBe(`/api/activity.csv?action=token.revoked&q=${encodeURIComponent(name)}`);
    const csv = await page.request.get(href);
    expect(csv.status()).toBe(200);
    expect(csv.headers()['content-type']).toContain('text/csv');
    const lines = (await csv.text()).trim().split(/\r\n/);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('API token revoked');
    expect(lines[1]).toContain(name);

    // Nothing found is said, with the way back to everything.
    await page.getByLabel('Search').fill(`${name} nothing`);
    await page.getByRole('button', { name: 'Search' }).click();
    await expect(page.getByText('No activity matches this filter.')).toBeVisible();
    await page.getByRole('link', { name: 'Show all activity' }).click();
    await expect(page).toHaveURL(/\/settings\/activity$/);
    await expect(entries.first()).toBeVisible();
    await expect(page.getByLabel('Search')).toHaveValue('');
    await expect(page.getByLabel('What was done')).toHaveValue('');

    // Both pages fit a 360 px wide phone.
    await page.setViewportSize({ width: 360, height: 800 });
    expect(await overflowsSideways(page), 'Activity at 360 px').toBe(false);
    await openFromNav(page, 'API tokens');
    await expect(item.locator('.status-badge')).toHaveText('Revoked');
    expect(await overflowsSideways(page), 'API tokens at 360 px').toBe(false);
  } finally {
    await script.dispose();
  }
});

test('an end user is offered neither API tokens nor Activity, and is told why at their addresses', async ({ page }) => {
  await signIn(page, END_USER);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'API tokens' })).toHaveCount(0);
  await expect(nav.getByRole('link', { name: 'Activity' })).toHaveCount(0);

  await page.goto('/settings/activity');
  await expect(page.getByRole('heading', { name: 'Activity', level: 1 })).toBeVisible();
  await expect(page.locator('.not-allowed')).toContainText('The activity log is shown only to organisation admins and resellers.');
  await expect(page.locator('.not-allowed')).toContainText('Ask your organisation admin');
  await expect(page.getByRole('table')).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Export CSV' })).toHaveCount(0);

  await page.goto('/settings/tokens');
  await expect(page.getByRole('heading', { name: 'API tokens', level: 1 })).toBeVisible();
  await expect(page.locator('.not-allowed')).toContainText('API tokens are created and revoked only by organisation admins and resellers');
  await expect(page.getByRole('button', { name: 'Create token' })).toHaveCount(0);

  // The server refuses her whatever the portal shows.
  expect((await page.request.get('/api/activity')).status()).toBe(403);
  expect((await page.request.get('/api/activity.csv')).status()).toBe(403);
  expect((await page.request.get('/api/tokens')).status()).toBe(403);
});
