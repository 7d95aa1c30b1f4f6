import { expect, Page, test } from './fixtures';
import { END_USER, expectExplained, ORG_ADMIN, RESELLER, signIn } from './helpers';
import { ownServerEach, signedIn } from './own-server';

// Each answer of the API, driven by real means, explained where it happened and listed in the
// Problems panel. 401, 422 and 429 have theirs in session, problems and rate-limit specs.
// The specs that change or break things run against a server of their own.

async function firstJob(page: Page, kind: string, status: string): Promise<string> {
  const list = await (await page.request.get(`/api/jobs?kind=${kind}&status=${status}`)).json();
  expect(list.items.length, `a ${kind} in ${status}`).toBeGreaterThan(0);
  return list.items[0].id;
}

test('400: a request body spoilt on its way is explained on the form, and sending again works', async ({ page }) => {
  await signIn(page, ORG_ADMIN);
  await page.goto('/status/migrates');
  await page.getByRole('button', { name: 'New migration' }).click();
  const form = page.getByRole('form', { name: 'New migration' });
  await form.getByLabel('Mailbox', { exact: true }).selectOption({ label: END_USER });
  await form.getByLabel('Migrate to (mailbox address)').fill('chloe.garcia@acme-legal.example');
  // A proxy between browser and server cuts the body short: the real server reads broken JSON.
  await page.route('**/api/jobs', (route) =>
    route.request().method() === 'POST' ? route.continue({ postData: '{"kind": "migrate", "mailbox_id": ' }) : route.continue(),
  );
  await form.getByRole('button', { name: 'Start migration' }).click();
  const notice = form.getByRole('alert');
  await expectExplained(page, notice, {
    heading: '400 · The request body is not valid JSON',
    todo: 'Reload the page and try again',
    method: 'POST',
    path: '/api/jobs',
  });
  await page.unroute('**/api/jobs');
  await expect(form.getByLabel('Migrate to (mailbox address)')).toHaveValue('chloe.garcia@acme-legal.example');
  await form.getByRole('button', { name: 'Start migration' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'is queued' })).toBeVisible();
});

test('403: a link to credentials opened by an end user says which role may open them', async ({ page }) => {
  await signIn(page, END_USER);
  await page.goto('/settings/credentials?organisation=1');
  const notice = page.getByRole('alert').filter({ hasText: '403' });
  await expectExplained(page, notice, {
    heading: '403 · Not allowed for your role',
    todo: 'Your role does not allow this',
    method: 'GET',
    path: '/api/organisations/1/credentials',
  });
  await expect(notice.locator('.error-notice__detail')).toContainText('admins and its reseller');
});

test.describe('on a server of their own', () => {
  // Jobs move every 2 s here, so that a restore put back on the queue is still there when the
  // second click of the 409 spec lands.
  const server = ownServerEach({ PORTAL_DEMO_STEP_MS: '2000' });

  test('404: an old link to a deleted restore says it may have been deleted, and leads back', async ({ browser }) => {
    const page = await signedIn(browser, server(), ORG_ADMIN);
    await page.goto('/status/restores?status=completed');
    const id = (await page.locator('.jobs-table__id code').first().textContent())!;
    await page.getByRole('link', { name: id }).click();
    await expect(page).toHaveURL(new RegExp(`/status/restores/${id}$`));
    await expect(page.getByRole('heading', { name: `Restore ${id}` })).toBeVisible();
    await page.getByRole('button', { name: `Delete ${id}` }).click();
    await page.getByRole('group', { name: `Delete Restore ${id}?` }).getByRole('button', { name: `Delete Restore ${id}` }).click();
    await expect(page.getByRole('status').filter({ hasText: `Restore ${id} was deleted.` })).toBeVisible();

    await page.goto(`/status/restores/${id}`); // the old link, from a bookmark or a ticket
    const notice = page.getByRole('alert');
    await expectExplained(page, notice, {
      heading: '404 · Not found',
      todo: 'It may have been deleted, or the link is old',
      method: 'GET',
      path: `/api/jobs/${id}`,
    });
    await expect(notice.locator('.error-notice__detail')).toContainText(id);
    await page.getByRole('link', { name: 'Back to Restores' }).click();
    await expect(page).toHaveURL(/\/status\/restores$/);
    await expect(page.locator('.jobs-table__id code').filter({ hasText: id })).toHaveCount(0);
  });

  test('405: a method the route lacks is explained where the user clicked, and nothing changes', async ({ browser }) => {
    const page = await signedIn(browser, server(), ORG_ADMIN);
    const id = await firstJob(page, 'restore', 'cancelled');
    await page.goto(`/status/restores/${id}`);
    // An outdated proxy rewrites the method: the real server has no PUT on this route.
    await page.route(`**/api/jobs/${id}/retry`, (route) => route.continue({ method: 'PUT' }));
    await page.getByRole('button', { name: `Try again: ${id}` }).click();
    const notice = page.getByRole('alert');
    await expectExplained(page, notice, {
      heading: '405 · Method not allowed here',
      todo: 'Reload the page',
      method: 'POST',
      path: `/api/jobs/${id}/retry`,
    });
    await expect(notice.locator('.error-notice__detail')).toContainText('POST');
    await expect(page.locator('.job-page__status .status-badge')).toHaveText('Cancelled');
  });

  test('409: two people retry the same restore at once; the second learns what changed, beside the item', async ({ browser }) => {
    const mine = await signedIn(browser, server(), ORG_ADMIN);
    const id = await firstJob(mine, 'restore', 'failed');
    const theirs = await mine.context().newPage();
    for (const page of [mine, theirs]) {
      await page.goto(`/status/restores/${id}`);
      await expect(page.locator('.job-page__status .status-badge')).toHaveText('Failed');
    }
    // My click is on its way while theirs lands first.
    await mine.route(`**/api/jobs/${id}/retry`, async (route) => {
      const landed = theirs.waitForResponse((r) => r.url().endsWith(`/api/jobs/${id}/retry`));
      await theirs.getByRole('button', { name: `Try again: ${id}` }).click();
      expect((await landed).status()).toBe(202);
      await route.continue();
    });
    await mine.getByRole('button', { name: `Try again: ${id}` }).click();
    const notice = mine.getByRole('alert');
    await expectExplained(mine, notice, {
      heading: '409 · In conflict with the current state',
      todo: 'Reload this item',
      method: 'POST',
      path: `/api/jobs/${id}/retry`,
    });
    await expect(notice.locator('.error-notice__detail')).toContainText('only a cancelled, failed or expired job can be started again');
    // The page follows the change by itself, and the explanation stays beside it.
    await expect(mine.locator('.job-page__status .status-badge')).not.toHaveText('Failed');
    await expect(notice).toBeVisible();
  });

  test('500: a damaged record is explained in the list with a request ID to quote', async ({ browser }) => {
    const page = await signedIn(browser, server(), ORG_ADMIN);
    await server().sql("UPDATE jobs SET status = 'garbled' WHERE kind = 'restore'");
    await page.goto('/status/restores');
    const notice = page.getByRole('alert');
    await expectExplained(page, notice, {
      heading: '500 · Something went wrong on our side',
      todo: 'send the request ID to support',
      method: 'GET',
      path: '/api/jobs',
    });
    await expect(notice).not.toContainText('garbled');
  });

  test('503: a database held by another program: the page counts down and retries by itself', async ({ browser }) => {
    test.setTimeout(90_000);
    const page = await signedIn(browser, server(), ORG_ADMIN);
    await page.goto('/status/backups?status=completed');
    const email = (await page.locator('.backups-table__email').first().textContent())!;
    await page.goto(`/status/backups?q=${encodeURIComponent(email)}`);
    const lock = await server().holdDatabase();
    await page.getByRole('button', { name: `Force Backup of ${email}` }).click();
    const notice = page.getByRole('alert').filter({ hasText: '503' });
    // The server waits 5 s for the lock (longer while its workers wait for it too), then answers 503.
    await expect(notice.locator('.error-notice__countdown')).toHaveText(/^Trying again by itself in \d s\.$/, { timeout: 40_000 });
    await expectExplained(page, notice, {
      heading: '503 · The service is busy for a moment',
      todo: 'Try again in a few minutes',
      method: 'POST',
      path: '/api/backups/',
    });
    // The retry goes through: the account's backup starts. A demo run takes about a second, so
    // the badge may already say Completed again; the server's answer to the retry is what shows it started.
    const retried = page.waitForResponse(
      (r) => r.request().method() === 'POST' && r.url().includes('/api/backups/') && r.status() === 202,
      { timeout: 30_000 },
    );
    await lock.release();
    expect((await (await retried).json()).status).toBe('preparing_backup');
    await expect(notice).toHaveCount(0, { timeout: 30_000 });
    await expect(page.locator('.backups-table__row .status-badge')).toHaveText(/Preparing Backup|On Queue|In Progress|Completed/);
  });

  test('the server stopped: said plainly, nothing typed is lost, and it works once the server is back', async ({ browser }) => {
    const page = await signedIn(browser, server(), ORG_ADMIN);
    await page.goto('/status/migrates');
    await page.getByRole('button', { name: 'New migration' }).click();
    const form = page.getByRole('form', { name: 'New migration' });
    await form.getByLabel('Mailbox', { exact: true }).selectOption({ label: END_USER });
    await form.getByLabel('Migrate to (mailbox address)').fill('dmitri.jansen@acme-legal.example');
    await server().stop();
    await form.getByRole('button', { name: 'Start migration' }).click();
    const notice = form.getByRole('alert');
    await expectExplained(page, notice, {
      heading: 'The server could not be reached',
      todo: 'Check your connection',
      method: 'POST',
      path: '/api/jobs',
      answered: false,
    });
    await server().start();
    await expect(form.getByLabel('Migrate to (mailbox address)')).toHaveValue('dmitri.jansen@acme-legal.example');
    await form.getByRole('button', { name: 'Start migration' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'is queued' })).toBeVisible();
  });
});

test.describe('on a server with a short time limit', () => {
  // Below the 5 s a request waits for a held database, above what a page needs.
  const server = ownServerEach({ PORTAL_REQUEST_TIMEOUT_MS: '2500' });

  test('504: a request over the time limit says so and what to try', async ({ browser }) => {
    const page = await signedIn(browser, server(), ORG_ADMIN);
    await page.goto('/status/backups?status=completed');
    const email = (await page.locator('.backups-table__email').first().textContent())!;
    const lock = await server().holdDatabase();
    await page.getByRole('button', { name: `Force Backup of ${email}` }).click();
    // Beside the account, even when the list's own refresh times out meanwhile (it stays, marked).
    const row = page.locator('.backups-table__row').filter({ hasText: email });
    const notice = row.getByRole('alert').filter({ hasText: '504' });
    await expectExplained(page, notice, {
      heading: '504 · The request took too long',
      todo: 'narrow the request',
      method: 'POST',
      path: '/api/backups/',
    });
    await expect(notice.locator('.error-notice__detail')).toContainText('reload to see the current state');
    await lock.release();
  });
});

test.describe('with the identity provider out of reach', () => {
  // Port 9 (discard) on loopback: nothing listens, every connection is refused.
  const server = ownServerEach({ PORTAL_IDP_AUTHORITY: 'http://127.0.0.1:9' });

  test('502: Re Authenticate says the provider could not be reached, and nothing was changed', async ({ browser }) => {
    const page = await signedIn(browser, server(), RESELLER);
    await page.goto('/settings/credentials?organisation=3');
    const backupAdmin = page.getByRole('article', { name: 'Backup Admin' });
    await backupAdmin.getByRole('button', { name: 'Re Authenticate' }).click();
    await backupAdmin.getByLabel("Backup admin's username").fill('backup.admin@cedar-logistics.example');
    await backupAdmin.getByLabel('Password').fill('idp-demo');
    await backupAdmin.getByRole('button', { name: 'Check and save' }).click();
    const notice = backupAdmin.getByRole('alert');
    await expectExplained(page, notice, {
      heading: '502 · A service we rely on did not answer as expected',
      todo: 'Try again in a few minutes',
      method: 'PUT',
      path: '/api/organisations/3/credentials/backup-admin',
    });
    // A live update (a backup forced elsewhere) reloads the credentials under the form: the
    // answer and what was typed stay.
    const reread = page.waitForResponse((r) => r.url().endsWith('/api/organisations/3/credentials') && r.request().method() === 'GET');
    const session = await (await page.request.get('/api/session')).json();
    const list = await (await page.request.get('/api/backups?q=cedar&status=completed')).json();
    const forced = await page.request.post(`/api/backups/${list.items[0].mailbox_id}/force`, { headers: { 'x-csrf-token': session.csrf_token } });
    expect(forced.status()).toBe(202);
    await reread;
    await expect(notice.locator('.error-notice__detail')).toContainText('Nothing was changed');
    await expect(backupAdmin.locator('.status-badge')).toHaveText('Broken');
    await expect(backupAdmin.getByLabel('Password')).toHaveValue('idp-demo');
  });
});
