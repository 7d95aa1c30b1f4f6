import { expect, Page, test } from './fixtures';
import { END_USER, ORG_ADMIN, signIn } from './helpers';

// Who may do what (portal_api::Action): the portal offers each role only what it may do, and
// the server refuses the rest whatever the portal shows.

/** Another mailbox of Acme Legal, the organisation of END_USER and ORG_ADMIN (server/src/seed/mod.rs). */
const COLLEAGUE = 'bruno.dubois@acme-legal.example';
/** A mailbox of another organisation of the same reseller. */
const OTHER_ORGANISATION = 'hiro.bianchi@bluebird-clinics.example';

async function csrfHeaders(page: Page): Promise<Record<string, string>> {
  const session = await (await page.request.get('/api/session')).json();
  return { 'x-csrf-token': session.csrf_token };
}

interface JobRow {
  id: string;
  mailbox_email: string;
  destination: string | null;
  status: string;
}

async function jobs(page: Page, kind: string, status: string): Promise<JobRow[]> {
  const response = await page.request.get(`/api/jobs?kind=${kind}&status=${status}&per_page=200`);
  expect(response.status(), `GET /api/jobs?kind=${kind}&status=${status}`).toBe(200);
  return (await response.json()).items;
}

async function firstJob(page: Page, kind: string, status: string): Promise<string> {
  const list = await jobs(page, kind, status);
  expect(list.length, `a ${kind} in ${status}`).toBeGreaterThan(0);
  return list[0].id;
}

/** Whether a restore writes into the mailbox it was taken from (no destination: the same). */
function intoOwnMailbox(row: JobRow): boolean {
  return (row.destination ?? row.mailbox_email).toLowerCase() === row.mailbox_email.toLowerCase();
}

test('an end user is offered only their own mailbox: no migration, no other destination, no Force Backup, no settings', async ({ page }) => {
  await signIn(page, END_USER);
  await expect(page.locator('.backups-table__row')).toHaveCount(1);
  await expect(page.getByRole('button', { name: /Force Backup/ })).toHaveCount(0);
  const nav = page.getByRole('navigation', { name: 'Main' });
  // Of Account Settings, only her own sign-in's Security: no organisation's settings.
  await expect(nav.getByRole('link', { name: 'Security', exact: true })).toBeVisible();
  for (const link of ['Credentials', 'Mailboxes', 'Retention', 'Integrations', 'Deliveries', 'API tokens', 'Activity']) {
    await expect(nav.getByRole('link', { name: link, exact: true })).toHaveCount(0);
  }

  // Migrates: her migrations are listed, but she starts none, and is told who does.
  await nav.getByRole('link', { name: 'Migrates' }).click();
  await expect(page.getByRole('heading', { name: 'Migrates', level: 1 })).toBeVisible();
  await expect(page.locator('.jobs__who-starts')).toHaveText(/^Migrations are started by .*admin.*\. Ask your organisation's admin/);
  await expect(page.getByRole('button', { name: 'New migration' })).toHaveCount(0);
  // Nor can she delete or retry one: a migration writes into another mailbox.
  const migration = await firstJob(page, 'migrate', 'completed');
  await page.goto(`/status/migrates/${migration}`);
  await expect(page.getByRole('heading', { name: `Migration ${migration}` })).toBeVisible();
  await expect(page.locator('.job-page__status .status-badge')).toHaveText('Completed');
  await expect(page.locator('.job-page__actions').getByRole('button')).toHaveCount(0);
  await expect(page.locator('.job-page__no-actions')).toHaveText(
    "Nothing here is for you to do: your organisation's admin manages this migration.",
  );
  // A restore of hers into her own mailbox is hers to delete (the seed gives her one; another
  // of hers may go into a colleague's mailbox, and is not hers to delete).
  const own = (await jobs(page, 'restore', 'completed')).filter((row) => row.mailbox_email === END_USER && intoOwnMailbox(row));
  expect(own.length, `a completed restore of ${END_USER} into her own mailbox`).toBeGreaterThan(0);
  const restore = own[0].id;
  await page.goto(`/status/restores/${restore}`);
  await expect(page.getByRole('button', { name: `Delete ${restore}` })).toBeVisible();
  await expect(page.locator('.job-page__no-actions')).toHaveCount(0);

  // New restore: into her own mailbox, no other offered.
  await page.goto('/status/restores');
  await page.getByRole('button', { name: 'New restore' }).click();
  const form = page.getByRole('form', { name: 'New restore' });
  await expect(form).toContainText(`Restore into: your own mailbox, ${END_USER}.`);
  await expect(form.getByLabel('Mailbox', { exact: true }).locator('option')).toHaveText([END_USER]);
  await expect(form.getByLabel('Another mailbox')).toHaveCount(0);
  await expect(form.getByLabel('Restore into (mailbox address)')).toHaveCount(0);
});

test('an end user asking the API to write into a colleague\'s mailbox is refused with 403', async ({ page }) => {
  await signIn(page, END_USER);
  const headers = await csrfHeaders(page);
  const own = (await (await page.request.get('/api/backups')).json()).items[0].mailbox_id;

  const restore = await page.request.post('/api/jobs', { headers, data: { kind: 'restore', mailbox_id: own, destination: COLLEAGUE } });
  expect(restore.status()).toBe(403);
  expect(restore.headers()['content-type']).toContain('application/problem+json');
  const problem = await restore.json();
  expect(problem.status).toBe(403);
  expect(problem.instance).toBe(restore.headers()['x-request-id']);
  expect(problem.detail, 'names what is needed').toBeTruthy();

  const migrate = await page.request.post('/api/jobs', { headers, data: { kind: 'migrate', mailbox_id: own, destination: COLLEAGUE } });
  expect(migrate.status()).toBe(403);
  expect(migrate.headers()['content-type']).toContain('application/problem+json');

  const force = await page.request.post(`/api/backups/${own}/force`, { headers });
  expect(force.status()).toBe(403);

  // Her own mailbox, named or not, is hers to restore into.
  const named = await page.request.post('/api/jobs', { headers, data: { kind: 'restore', mailbox_id: own, destination: END_USER } });
  expect(named.status()).toBe(201);
  const unnamed = await page.request.post('/api/jobs', { headers, data: { kind: 'restore', mailbox_id: own } });
  expect(unnamed.status()).toBe(201);
});

test('an organisation admin is offered migrations, other destinations, Force Backup and Account Settings', async ({ page }) => {
  await signIn(page, ORG_ADMIN);
  await expect(page.getByRole('button', { name: /^Force Backup of all/ })).toBeVisible();
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'Credentials' })).toBeVisible();

  await nav.getByRole('link', { name: 'Migrates' }).click();
  await expect(page.getByRole('button', { name: 'New migration' })).toBeVisible();
  await expect(page.locator('.jobs__who-starts')).toHaveCount(0);

  await nav.getByRole('link', { name: 'Restores' }).click();
  await page.getByRole('button', { name: 'New restore' }).click();
  const form = page.getByRole('form', { name: 'New restore' });
  await form.getByLabel('Another mailbox').check();
  await expect(form.getByLabel('Restore into (mailbox address)')).toBeVisible();

  // Within the organisation only: a mailbox of another organisation is refused on its field.
  const headers = await csrfHeaders(page);
  const list = await (await page.request.get(`/api/backups?q=${encodeURIComponent(END_USER)}`)).json();
  const source = list.items[0].mailbox_id;
  const elsewhere = await page.request.post('/api/jobs', {
    headers,
    data: { kind: 'restore', mailbox_id: source, destination: OTHER_ORGANISATION },
  });
  expect(elsewhere.status()).toBe(422);
  expect((await elsewhere.json()).errors.map((e: { field: string }) => e.field)).toContain('destination');
});

test("an end user is not told to use what she is not offered: the admin's part is named, with the ID to quote", async ({ page }) => {
  await signIn(page, END_USER);
  // The seed gives her no migration that waits for someone (hers are queued, running or done),
  // and she cannot start one: her migration is shown here as the destination refused it, which
  // is what an admin answers with Edit.
  const migration = (await jobs(page, 'migrate', 'completed')).find((row) => row.mailbox_email === END_USER);
  expect(migration, `a migration of ${END_USER}`).toBeTruthy();
  const id = migration!.id;
  await page.route(`**/api/jobs/${id}`, async (route) => {
    const response = await route.fetch();
    const row = await response.json();
    row.status = 'authentication_error';
    row.finished_at = null;
    row.run = { ...row.run, detail: 'The destination mail server rejected the password (LOGIN failed).' };
    await route.fulfill({ response, json: row });
  });
  await page.goto(`/status/migrates/${id}`);
  const status = page.locator('.job-page__status');
  await expect(status.locator('.status-badge')).toHaveText('Authentication Error');
  await expect(status.locator('.job-run__cause')).toContainText('refused the password');
  await expect(status.locator('.job-run__todo')).toHaveText(
    `What to do: Your organisation's admin can fix this: ask them, quoting ${id}.`,
  );
  await expect(status).not.toContainText('Choose Edit');
  await expect(page.getByRole('button', { name: /Edit/ })).toHaveCount(0);
  await expect(page.locator('.job-page__no-actions')).toHaveText(
    "Nothing here is for you to do: your organisation's admin manages this migration.",
  );
});

test('an organisation admin is offered Try again or Edit on a migration that waits for it, and told to use them', async ({ page }) => {
  await signIn(page, ORG_ADMIN);
  // The seed has a cancelled migration and one the destination refused in every organisation
  // (server/src/seed/mod.rs); other specs may have tried them again or fixed them since.
  const cancelled = await jobs(page, 'migrate', 'cancelled');
  const refused = await jobs(page, 'migrate', 'authentication_error');
  test.skip(
    cancelled.length === 0 && refused.length === 0,
    "no migration of Acme Legal is cancelled or refused by its destination now (other specs tried them again or fixed them)",
  );
  let checked = 0;
  for (const row of [cancelled[0], refused[0]].filter(Boolean)) {
    await page.goto(`/status/migrates/${row.id}`);
    const status = page.locator('.job-page__status');
    await expect(page.getByRole('heading', { name: `Migration ${row.id}` })).toBeVisible();
    // A live update may have moved it on meanwhile: check what the page shows.
    const shown = await status.getAttribute('data-status');
    if (shown === 'cancelled') {
      await expect(status.locator('.job-run__todo')).toHaveText(/^What to do: Try again\./);
      await expect(page.getByRole('button', { name: `Try again: ${row.id}` })).toBeVisible();
    } else if (shown === 'authentication_error') {
      await expect(status.locator('.job-run__todo')).toContainText('Choose Edit');
      await expect(page.getByRole('button', { name: `Edit the destination password of ${row.id}` })).toBeVisible();
    } else {
      continue;
    }
    await expect(status.locator('.job-run__todo--ask')).toHaveCount(0);
    await expect(page.locator('.job-page__no-actions')).toHaveCount(0);
    checked++;
  }
  test.skip(checked === 0, 'the migrations found moved on (tried again elsewhere) before the page showed them');
});
