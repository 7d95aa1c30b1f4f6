import { expect, Page, test } from './fixtures';
import { END_USER, ORG_ADMIN, signIn } from './helpers';

// Who may do what (portal_api::Action): the portal offers each role only what it may do, and
// the server refuses the rest whatever the portal shows.

/** Another mailbox of Acme Legal, the organisation of END_USER and ORG_ADMIN (server/src/seed.rs). */
const COLLEAGUE = 'bruno.dubois@acme-legal.example';
/** A mailbox of another organisation of the same reseller. */
const OTHER_ORGANISATION = 'hiro.bianchi@bluebird-clinics.example';

async function csrfHeaders(page: Page): Promise<Record<string, string>> {
  const session = await (await page.request.get('/api/session')).json();
  return { 'x-csrf-token': session.csrf_token };
}

async function firstJob(page: Page, kind: string, status: string): Promise<string> {
  const list = await (await page.request.get(`/api/jobs?kind=${kind}&status=${status}`)).json();
  expect(list.items.length, `a ${kind} in ${status}`).toBeGreaterThan(0);
  return list.items[0].id;
}

test('an end user is offered only their own mailbox: no migration, no other destination, no Force Backup, no settings', async ({ page }) => {
  await signIn(page, END_USER);
  await expect(page.locator('.backups-table__row')).toHaveCount(1);
  await expect(page.getByRole('button', { name: /Force Backup/ })).toHaveCount(0);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav).not.toContainText('Account Settings');
  await expect(nav.getByRole('link', { name: 'Credentials' })).toHaveCount(0);

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
  // A restore of hers into her own mailbox is hers to delete.
  const restore = await firstJob(page, 'restore', 'completed');
  await page.goto(`/status/restores/${restore}`);
  await expect(page.getByRole('button', { name: `Delete ${restore}` })).toBeVisible();

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
