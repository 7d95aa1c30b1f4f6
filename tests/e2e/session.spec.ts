import { expect, test } from './fixtures';
import { DEMO_PASSWORD, END_USER, expectExplained, ORG_ADMIN, signIn } from './helpers';

test('an end user cannot read another mailbox through the API', async ({ page }) => {
  await signIn(page, END_USER);
  const own = await page.request.get('/api/backups');
  expect(own.status()).toBe(200);
  const ownRows = (await own.json()).items;
  expect(ownRows).toHaveLength(1);
  const ownId = ownRows[0].mailbox_id;

  const other = await page.request.get(`/api/backups/${ownId + 1}`);
  expect(other.status()).toBe(404);
  expect(other.headers()['content-type']).toContain('application/problem+json');
  const problem = await other.json();
  expect(problem.status).toBe(404);
  expect(problem.instance).toBe(other.headers()['x-request-id']);

  const filtered = await page.request.get('/api/backups?q=acme-legal');
  expect((await filtered.json()).items).toHaveLength(1);
});

test('a wrong password is explained where the user typed it, with a request ID', async ({ page }) => {
  await page.goto('/sign-in');
  await page.getByLabel('Email address').fill(END_USER);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const notice = page.getByRole('alert');
  await expect(notice).toContainText('401 · Email address or password not recognised');
  await expect(notice).toContainText('do not match an account');
  await expect(notice.getByRole('link', { name: 'Sign in again' })).toHaveCount(0);
  await expect(notice.locator('.error-notice__request-id')).toHaveText(/^[0-9a-f]{24}$/);
  await expect(page).toHaveURL(/\/sign-in/);
});

test('empty fields are marked one by one', async ({ page }) => {
  await page.goto('/sign-in');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('#sign-in-email-error')).toHaveText('Enter your email address.');
  await expect(page.locator('#sign-in-password-error')).toHaveText('Enter your password.');
  await expect(page.getByLabel('Email address')).toHaveAttribute('aria-invalid', 'true');
});

test('signing out ends the session, and signing in brings the user back where they were', async ({ page }) => {
  await signIn(page, END_USER);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
  expect((await page.request.get('/api/session')).status()).toBe(401);

  await page.goto('/status/backups?status=completed');
  await expect(page).toHaveURL(/\/sign-in\?next=/);
  await page.getByLabel('Email address').fill(END_USER);
  await page.getByLabel('Password').fill('demo-portal');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/status\/backups\?status=completed$/);
});

test('the layout holds at 360 px wide', async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await signIn(page, END_USER);
  for (const path of ['/', '/status/backups', '/status/migrates', '/status/restores', '/status/downloads']) {
    await page.goto(path);
    await expect(page.locator('h1')).toBeVisible();
    await expect(page.locator('.loading')).toHaveCount(0);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `${path} is wider than the screen`).toBeLessThanOrEqual(0);
  }
});

test('a session that ends under a form: sign in again right there, what was typed stays, and the request goes through', async ({ page }) => {
  await signIn(page, ORG_ADMIN); // migrations are started by admins
  await page.goto('/status/migrates');
  await page.getByRole('button', { name: 'New migration' }).click();
  const form = page.getByRole('form', { name: 'New migration' });
  await form.getByLabel('Mailbox', { exact: true }).selectOption({ label: END_USER });
  await form.getByLabel('Migrate to (mailbox address)').fill('esme.mensah@acme-legal.example');

  // The session ends elsewhere (signed out in another tab of the same browser).
  const session = await (await page.request.get('/api/session')).json();
  expect((await page.request.delete('/api/session', { headers: { 'x-csrf-token': session.csrf_token } })).status()).toBe(204);

  await form.getByRole('button', { name: 'Start migration' }).click();
  const notice = form.getByRole('alert').filter({ hasText: '401' });
  await expectExplained(page, notice, {
    heading: '401 · You are not signed in',
    todo: 'Sign in again; you will come back to this page.',
    method: 'POST',
    path: '/api/jobs',
  });
  const again = notice.getByRole('group', { name: 'Sign in again' });
  await expect(again.getByLabel('Email address')).toHaveValue(ORG_ADMIN);
  await again.getByLabel('Password').fill('not-the-password');
  await again.getByRole('button', { name: 'Sign in and continue' }).click();
  await expect(again).toContainText('do not match an account');
  await expect(again.getByLabel('Password')).toHaveAttribute('aria-invalid', 'true');
  await again.getByLabel('Password').fill(DEMO_PASSWORD);
  await again.getByRole('button', { name: 'Sign in and continue' }).click();

  // The same form, with what was typed, went through once signed in.
  await expect(page.getByRole('status').filter({ hasText: 'is queued' })).toHaveText(/^Migration M-[2-9A-Z]{8} is queued\./);
  await expect(page).toHaveURL(/\/status\/migrates/);
});
