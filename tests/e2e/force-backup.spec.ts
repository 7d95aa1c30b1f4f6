import { expect, test } from './fixtures';
import { END_USER, ORG_ADMIN, RESELLER, signIn } from './helpers';

test('Force Backup on one account runs it, and the page follows it without a reload', async ({ page }) => {
  await signIn(page, ORG_ADMIN);
  await page.goto('/status/backups?status=completed');
  const row = page.locator('.backups-table__row').first();
  const email = (await row.locator('.backups-table__email').textContent())!;
  await page.getByLabel('Search').fill(email);
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByLabel('Status').selectOption({ label: 'All statuses' });
  await expect(page.locator('.backups-table__row')).toHaveCount(1);

  await page.getByRole('button', { name: `Force Backup of ${email}` }).click();
  // It waits, runs and completes by itself; the list refreshes on its own.
  await expect(page.locator('.backups-table__row .status-badge')).toHaveText(/Preparing Backup|In Progress|Completed/);
  await expect(page.locator('.backups-table__row .status-badge')).toHaveText('Completed', { timeout: 20_000 });
  await expect(page.locator('.backups-table__row td[data-label="Last backup"]')).toContainText('just now');
  await expect(page.locator('.backups__updated')).toHaveText(/^Live · updated /);
});

test('Force Backup twice in a row: the second is refused as already running, and says so', async ({ page }) => {
  await signIn(page, ORG_ADMIN);
  const session = await (await page.request.get('/api/session')).json();
  const list = await (await page.request.get('/api/backups?status=completed')).json();
  const id = list.items[0].mailbox_id;
  const headers = { 'x-csrf-token': session.csrf_token };
  const first = await page.request.post(`/api/backups/${id}/force`, { headers });
  expect(first.status()).toBe(202);
  const second = await page.request.post(`/api/backups/${id}/force`, { headers });
  expect(second.status()).toBe(409);
  expect(second.headers()['content-type']).toContain('application/problem+json');
  expect((await second.json()).detail).toContain('already running');
  // Without the session's CSRF token nothing is started.
  const forged = await page.request.post(`/api/backups/${id}/force`, { headers: { 'x-csrf-token': 'forged' } });
  expect(forged.status()).toBe(403);
});

test('every error status says why and what to do', async ({ page }) => {
  await signIn(page, RESELLER);
  const cases: [string, RegExp][] = [
    ['authentication_error', /Account Settings › Credentials/],
    ['space_full', /storage/],
    ['retrying', /Retry \d+ of 25 · next try at/],
    ['connection_error', /Retry \d+ of 25 · next try at/],
    ['partially_complete', /skipped/],
  ];
  for (const [status, text] of cases) {
    await page.goto(`/status/backups?status=${status}`);
    const first = page.locator('.backups-table__row').first();
    await expect(first.locator('.job-run')).toContainText(text);
    await expect(first.locator('.job-run__todo')).toContainText('What to do:');
  }
});

test('Force Backup of a whole filter asks first and says how many it started', async ({ page }) => {
  await signIn(page, RESELLER);
  await page.goto('/status/backups?q=cedar');
  await expect(page.locator('.pager__summary')).toHaveText('1–20 of 20 mailboxes');
  await page.getByRole('button', { name: 'Force Backup of all 20 accounts' }).click();
  await expect(page.getByText('Start a backup of 20 accounts now?')).toBeVisible();
  await page.getByRole('button', { name: 'Start 20 backups now' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Started' })).toHaveText(/Started \d+ backup\(s\); \d+ already running\./);
});

test('an end user has no Force Backup', async ({ page }) => {
  await signIn(page, END_USER);
  await expect(page.locator('.backups-table__row')).toHaveCount(1);
  await expect(page.getByRole('button', { name: /Force Backup/ })).toHaveCount(0);
});

test('a change made elsewhere appears in an open page without a reload', async ({ page, browser }) => {
  await signIn(page, ORG_ADMIN);
  await page.goto('/status/backups?status=completed');
  const row = page.locator('.backups-table__row').first();
  const email = (await row.locator('.backups-table__email').textContent())!;
  await page.goto(`/status/backups?q=${encodeURIComponent(email)}`);
  await expect(page.locator('.backups__updated')).toHaveText(/^Live/);
  await expect(page.locator('.backups-table__row .status-badge')).toHaveText('Completed');

  // Someone else, in another browser, forces a backup of that account.
  const other = await browser.newPage();
  await signIn(other, ORG_ADMIN);
  const session = await (await other.request.get('/api/session')).json();
  const list = await (await other.request.get(`/api/backups?q=${encodeURIComponent(email)}`)).json();
  const forced = await other.request.post(`/api/backups/${list.items[0].mailbox_id}/force`, { headers: { 'x-csrf-token': session.csrf_token } });
  expect(forced.status()).toBe(202);

  // The first page follows with no reload, long before its calm refresh (every 32 s while live).
  await expect(page.locator('.backups-table__row td[data-label="Last backup"]')).toContainText('just now', { timeout: 10_000 });
  await expect(page.locator('.backups-table__row .status-badge')).toHaveText('Completed', { timeout: 10_000 });
  await other.close();
});

test('a list whose refresh fails stays on screen, marked as not refreshed, until it can be read again', async ({ page }) => {
  await signIn(page, ORG_ADMIN);
  await page.goto('/status/backups?status=completed');
  const rows = page.locator('.backups-table__row');
  const email = (await rows.first().locator('.backups-table__email').textContent())!;
  const count = await rows.count();
  // From now on the network refuses the list's requests (Force Backup and the stream go through).
  const list = /\/api\/backups\?/;
  await page.route(list, (route) => route.abort('connectionrefused'));
  await page.getByRole('button', { name: `Force Backup of ${email}` }).click();
  const stale = page.getByRole('status').filter({ hasText: 'Not refreshed' });
  await expect(stale).toContainText('The server could not be reached');
  await expect(stale).toContainText('The list below is as read at');
  await expect(rows).toHaveCount(count);
  await expect(page.locator('.backups__updated')).toContainText('updated');

  // Back on the network: the next change reads the list again, and the mark goes.
  await page.unroute(list);
  await expect(stale).toHaveCount(0, { timeout: 20_000 });
  await expect(rows.filter({ hasText: email })).toBeVisible();
});

test('a list of skipped messages someone opened stays open while the list follows live updates', async ({ page }) => {
  await signIn(page, ORG_ADMIN);
  await page.goto('/status/backups?status=partially_complete');
  const row = page.locator('.backups-table__row').first();
  await row.getByRole('button', { name: 'Which messages were skipped?' }).click();
  const skipped = row.getByRole('list', { name: 'Skipped messages' });
  await expect(skipped).toContainText('could not be read as an email');
  const updated = page.locator('.backups__updated');
  await expect(updated).toHaveText(/^Live · updated /);
  const before = await updated.textContent();

  // Another account of the organisation changes: the list is read again (and redrawn).
  const session = await (await page.request.get('/api/session')).json();
  const other = await (await page.request.get('/api/backups?status=completed')).json();
  const forced = await page.request.post(`/api/backups/${other.items[0].mailbox_id}/force`, { headers: { 'x-csrf-token': session.csrf_token } });
  expect(forced.status()).toBe(202);
  await expect(updated).not.toHaveText(before!, { timeout: 15_000 });
  await expect(skipped).toContainText('could not be read as an email');
});
