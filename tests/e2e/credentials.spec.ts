import { expect, Page, test } from './fixtures';
import { ORG_ADMIN, RESELLER, signIn } from './helpers';
import { ownServerEach, signedIn } from './own-server';

/** The built-in identity provider's demo password (idp/src). */
const IDP_PASSWORD = 'idp-demo';

async function openCredentials(page: Page, organisation: number) {
  await page.goto(`/settings/credentials?organisation=${organisation}`);
  await expect(page.getByRole('heading', { name: 'Credentials', level: 1 })).toBeVisible();
}

function card(page: Page, name: string) {
  return page.getByRole('article', { name });
}

/** Signs in at the identity provider's page and presses Approve or Deny. */
async function decideAtProvider(page: Page, email: string, decision: 'Approve' | 'Deny') {
  await page.getByLabel(/email/i).fill(email);
  await page.getByLabel(/password/i).fill(IDP_PASSWORD);
  await page.getByRole('button', { name: decision }).click();
}

test('Continue: consent denied, then given in the wrong tenant, then given: the banner goes and backups recover', async ({ page }) => {
  await signIn(page, RESELLER);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
  const banner = page.getByRole('alert').filter({ hasText: 'Need Reauthentication' });
  await expect(banner).toContainText('Bluebird Clinics · Main App consent (global admin)');
  await banner.getByRole('listitem').filter({ hasText: 'Bluebird Clinics' }).getByRole('link', { name: 'Continue' }).click();
  await expect(page).toHaveURL(/\/settings\/credentials\?organisation=2/);
  const mainApp = card(page, 'Main App consent (global admin)');
  await expect(mainApp.locator('.status-badge')).toHaveText('Broken');

  // Denied at the provider: back here, told so, nothing changed.
  await mainApp.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText(/consent/i);
  await decideAtProvider(page, 'global.admin@bluebird-clinics.example', 'Deny');
  await expect(page.getByRole('alert')).toContainText('Consent was denied');
  await expect(mainApp.locator('.status-badge')).toHaveText('Broken');

  // Given by a global admin of another organisation: it does not count here.
  await mainApp.getByRole('button', { name: 'Continue' }).click();
  await decideAtProvider(page, 'global.admin@acme-legal.example', 'Approve');
  await expect(page.getByRole('alert')).toContainText("another organisation's Microsoft 365");
  await expect(mainApp.locator('.status-badge')).toHaveText('Broken');

  await mainApp.getByRole('button', { name: 'Continue' }).click();
  await decideAtProvider(page, 'global.admin@bluebird-clinics.example', 'Approve');
  await expect(page.getByRole('status').filter({ hasText: 'Consent is given again' })).toBeVisible();
  await expect(mainApp.locator('.status-badge')).toHaveText('Working');
  await expect(page.locator('.credentials__events li').first()).toContainText('Main App (Global Admin) Token authorization error is resolved');
  // The new consent's token holds at the provider.
  await page.getByRole('button', { name: 'Check now' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'every credential works' })).toBeVisible();

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
  await expect(page.getByText('Bluebird Clinics · Main App consent (global admin)')).toHaveCount(0);
  await page.goto('/status/backups?status=authentication_error&q=bluebird');
  await expect(page.getByText('No backups match this filter.')).toBeVisible({ timeout: 20_000 });
});

test('Re Authenticate: a wrong password is refused on its field, the right one is checked and saved', async ({ page }) => {
  await signIn(page, RESELLER);
  await openCredentials(page, 3);
  const backupAdmin = card(page, 'Backup Admin');
  await expect(backupAdmin.locator('.status-badge')).toHaveText('Broken');
  await backupAdmin.getByRole('button', { name: 'Re Authenticate' }).click();
  await backupAdmin.getByLabel("Backup admin's username").fill('backup.admin@cedar-logistics.example');
  await backupAdmin.getByLabel('Password').fill('wrong-password');
  await backupAdmin.getByRole('button', { name: 'Check and save' }).click();
  await expect(backupAdmin.locator('#backup-admin-password-error')).toContainText('Microsoft did not accept this username and password');

  await backupAdmin.getByLabel('Username', { exact: false }).fill('helpdesk@cedar-logistics.example');
  await backupAdmin.getByLabel('Password').fill(IDP_PASSWORD);
  await backupAdmin.getByRole('button', { name: 'Check and save' }).click();
  await expect(backupAdmin.locator('#backup-admin-username-error')).toContainText('lacks the role');

  await backupAdmin.getByLabel("Backup admin's username").fill('backup.admin@cedar-logistics.example');
  await backupAdmin.getByRole('button', { name: 'Check and save' }).click();
  await expect(backupAdmin.getByRole('status')).toHaveText('Checked with Microsoft and saved.');
  await expect(backupAdmin.locator('.status-badge')).toHaveText('Working');
  await expect(page.getByText(IDP_PASSWORD)).toHaveCount(0);
});

test('Re Authenticate: the answer for an organisation left behind is not shown under the one chosen since', async ({ page }) => {
  await signIn(page, RESELLER);
  await openCredentials(page, 1);
  // Acme Legal's answers wait until the test lets them go.
  let release = () => {};
  let answer: 'server' | 'saved' = 'server';
  await page.route('**/api/organisations/1/credentials/backup-admin', async (route) => {
    await new Promise<void>((resolve) => (release = resolve));
    if (answer === 'server') await route.continue();
    else await route.fulfill({ json: await (await page.request.get('/api/organisations/1/credentials')).json() });
  });
  const acmeAnswered = () => page.waitForResponse((r) => r.url().endsWith('/api/organisations/1/credentials/backup-admin'));

  const sendForAcme = async (password: string) => {
    const backupAdmin = card(page, 'Backup Admin');
    await backupAdmin.getByRole('button', { name: 'Re Authenticate' }).click();
    await backupAdmin.getByLabel("Backup admin's username").fill('backup.admin@acme-legal.example');
    await backupAdmin.getByLabel('Password').fill(password);
    await backupAdmin.getByRole('button', { name: 'Check and save' }).click();
    await expect(backupAdmin.getByRole('button', { name: 'Checking with Microsoft…' })).toBeVisible();
  };
  const chooseBluebird = async () => {
    await page.getByLabel('Organisation').selectOption('2');
    await expect(page.locator('.credentials__domain')).toContainText('Bluebird Clinics');
    const backupAdmin = card(page, 'Backup Admin');
    await backupAdmin.getByRole('button', { name: 'Re Authenticate' }).click();
    // Acme's save is still on its way: Bluebird's form does not wait for it.
    await expect(backupAdmin.getByRole('button', { name: 'Check and save' })).toBeVisible();
    return backupAdmin;
  };

  // Refused (a wrong password): the refusal is Acme's, not Bluebird's.
  await sendForAcme('wrong-password');
  let bluebird = await chooseBluebird();
  let answered = acmeAnswered();
  release();
  expect((await answered).status()).toBe(422);
  await page.waitForTimeout(500); // what the page makes of the answer
  await expect(bluebird.locator('#backup-admin-password-error')).toBeEmpty();
  await expect(bluebird.getByRole('alert')).toHaveCount(0);

  // Saved: Bluebird's form stays open, and its card is not marked fixed.
  await page.getByLabel('Organisation').selectOption('1');
  await expect(page.locator('.credentials__domain')).toContainText('Acme Legal');
  answer = 'saved';
  await sendForAcme('idp-demo');
  bluebird = await chooseBluebird();
  await bluebird.getByLabel('Password').fill('typed for Bluebird');
  answered = acmeAnswered();
  release();
  expect((await answered).status()).toBe(200);
  await page.waitForTimeout(500);
  await expect(bluebird.getByRole('status')).toHaveCount(0);
  await expect(bluebird.getByLabel('Password')).toHaveValue('typed for Bluebird');
});

test('Device Authorization: denied, then expired, each offering a new code', async ({ page, context }) => {
  await signIn(page, ORG_ADMIN);
  await openCredentials(page, 1);
  const device = card(page, 'Device Authorization');
  await device.getByRole('button', { name: 'Device Authorization' }).click();
  const code = (await device.getByLabel('User code', { exact: true }).textContent())!;
  expect(code).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  await expect(device.locator('.device-flow__countdown')).toContainText(/The code expires in 0:\d\d/);

  // Someone denies it at the provider; the page follows without a reload.
  const provider = await context.newPage();
  await provider.goto(await device.getByRole('link').first().getAttribute('href') as string);
  await provider.getByLabel('Code').fill(code.toLowerCase());
  await provider.getByRole('button', { name: /continue|next|submit/i }).click();
  await decideAtProvider(provider, 'global.admin@acme-legal.example', 'Deny');
  await expect(device.getByRole('alert')).toContainText('denied at Microsoft', { timeout: 15_000 });

  // A new code that nobody enters expires (20 s in the test server).
  await device.getByRole('button', { name: 'Get a new code' }).click();
  await expect(device.getByLabel('User code', { exact: true })).not.toHaveText(code);
  await expect(device.getByRole('button', { name: 'Verify & Continue' })).toBeDisabled();
  await expect(device.getByRole('alert')).toContainText('expired', { timeout: 40_000 });
  await expect(device.getByRole('button', { name: 'Get a new code' })).toBeVisible();
  await expect(device.locator('.status-badge')).toHaveText('Broken');
});

test('Device Authorization: a busy provider asks us to slow down; once authorised, Verify & Continue fixes it and backups recover', async ({ page, context }) => {
  await signIn(page, RESELLER);
  await openCredentials(page, 3);
  const device = card(page, 'Device Authorization');
  await device.getByRole('button', { name: 'Device Authorization' }).click();
  const code = (await device.getByLabel('User code', { exact: true }).textContent())!;
  // Cedar Logistics' tenant answers the first poll with slow_down: we poll 5 s slower.
  await expect(device.getByRole('status')).toContainText('asked us to slow down, so we now check every 6 s', { timeout: 15_000 });
  const verify = device.getByRole('button', { name: 'Verify & Continue' });
  await expect(verify).toBeDisabled();

  const provider = await context.newPage();
  await provider.goto(await device.getByRole('link').first().getAttribute('href') as string);
  await provider.getByLabel('Code').fill(code);
  await provider.getByRole('button', { name: /continue|next|submit/i }).click();
  await decideAtProvider(provider, 'global.admin@cedar-logistics.example', 'Approve');
  await expect(provider.getByText(/return to Backup Portal/i)).toBeVisible();

  await expect(verify).toBeEnabled({ timeout: 20_000 });
  await verify.click();
  await expect(device.getByRole('status').filter({ hasText: 'Verified with Microsoft and saved.' })).toBeVisible();
  await expect(device.locator('.status-badge')).toHaveText('Working');
  await expect(page.locator('.credentials__events li').first()).toContainText('Device Token authorization error is resolved');

  // Cedar's backup admin was fixed by the spec before: nothing is broken, its backups run again.
  await page.goto('/status/backups?status=authentication_error&q=cedar');
  await expect(page.getByText('No backups match this filter.')).toBeVisible({ timeout: 20_000 });
  await page.goto('/');
  await expect(page.getByText(/Cedar Logistics ·/)).toHaveCount(0);
});

test.describe('on a server of its own', () => {
  const server = ownServerEach();

  test('a broken Device Authorization does not also say its token is good for weeks', async ({ browser }) => {
    const page = await signedIn(browser, server(), RESELLER);
    await openCredentials(page, 1);
    // Acme Legal's delegated token expired two days ago (the demo data).
    const device = card(page, 'Device Authorization');
    await expect(device.locator('.status-badge')).toHaveText('Broken');
    await expect(device).toContainText('expired');
    await expect(device).not.toContainText('Delegated token expires');
    await expect(device.getByRole('definition').filter({ hasText: /\bin \d/ })).toHaveCount(0);
    await expect(device.locator('dt').filter({ hasText: 'Delegated token expired' })).toBeVisible();
    await expect(device.locator('dt:has-text("Delegated token expired") + dd')).toContainText('ago');

    // A working one says when it will expire (Bluebird Clinics').
    await openCredentials(page, 2);
    const working = card(page, 'Device Authorization');
    await expect(working.locator('.status-badge')).toHaveText('Working');
    await expect(working.locator('dt:has-text("Delegated token expires") + dd')).toContainText(/in \d+/);
  });
});
