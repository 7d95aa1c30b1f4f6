import { expect, test } from './fixtures';
import { expectExplained, signIn } from './helpers';

/** A user no other spec makes attempts with: the full minute is this spec's own. */
const OTHER_RESELLER = 'reseller@harbour.example';

test('too many attempts: the page counts down from Retry-After and tries again by itself', async ({ page }) => {
  test.setTimeout(150_000);
  await signIn(page, OTHER_RESELLER);
  const organisation = (await (await page.request.get('/api/organisations')).json())[0].id;
  await page.goto(`/settings/credentials?organisation=${organisation}`);
  await expect(page.getByRole('heading', { name: 'Credentials', level: 1 })).toBeVisible();

  // Use up this user's attempts for the minute (the test server allows 30).
  const session = await (await page.request.get('/api/session')).json();
  const headers = { 'x-csrf-token': session.csrf_token };
  let refused = null;
  for (let i = 0; i < 40 && !refused; i++) {
    const response = await page.request.post(`/api/organisations/${organisation}/credentials/verify`, { headers });
    if (response.status() === 429) refused = response;
  }
  expect(refused, 'the limit was reached').not.toBeNull();
  expect(Number(refused!.headers()['retry-after'])).toBeGreaterThan(0);

  // The person's own click is refused too: said where they clicked, with a countdown.
  await page.getByRole('button', { name: 'Check now' }).click();
  const notice = page.getByRole('alert').filter({ hasText: '429 · Too many attempts' });
  await expectExplained(page, notice, {
    heading: '429 · Too many attempts',
    todo: 'Wait a moment before trying again.',
    method: 'POST',
    path: `/api/organisations/${organisation}/credentials/verify`,
  });
  await expect(notice.locator('.error-notice__countdown')).toHaveText(/^Trying again by itself in \d+ s\.$/);
  const first = Number((await notice.locator('.error-notice__countdown').textContent())!.match(/\d+/)![0]);
  expect(first).toBeGreaterThan(30); // the minute started with this spec's own attempts
  await expect(notice.locator('.error-notice__countdown')).not.toHaveText(`Trying again by itself in ${first} s.`, { timeout: 3_000 });

  // When the wait is over, the check runs again by itself and succeeds.
  await expect(page.getByText(/^Checked with Microsoft just now: /)).toBeVisible({ timeout: 75_000 });
  await expect(notice).toHaveCount(0);
});

test('sign-in: wrong passwords for one address until 429, then the page counts the wait down and the button waits', async ({ page }) => {
  // An address no other spec uses (nor any account): the server limits failures per address,
  // whether it exists or not.
  const address = `nobody-${Date.now()}@example.com`;
  await page.goto('/sign-in');
  await page.getByLabel('Email address').fill(address);
  await page.getByLabel('Password').fill('not the password');
  const button = page.getByRole('button', { name: /^Sign in/ });
  let refused = null;
  for (let i = 0; i < 8 && !refused; i++) {
    const answered = page.waitForResponse((r) => r.url().endsWith('/api/session') && r.request().method() === 'POST');
    await button.click();
    const response = await answered;
    if (response.status() === 429) refused = response;
    else expect(response.status(), `attempt ${i + 1}`).toBe(401);
  }
  expect(refused, 'a 429 within 8 attempts').not.toBeNull();
  const retryAfter = Number(refused!.headers()['retry-after']);
  expect(retryAfter).toBeGreaterThan(0);
  expect(refused!.headers()['content-type']).toContain('application/problem+json');

  // Said where the user signed in, with what to do, the request ID and the seconds left.
  const notice = page.getByRole('alert').filter({ hasText: '429' });
  await expect(notice.locator('.error-notice__heading')).toHaveText(/^429 · /);
  await expect(notice.locator('.error-notice__todo')).toContainText('Wait a moment before trying again.');
  await expect(notice.locator('.error-notice__request-id')).toHaveText(refused!.headers()['x-request-id']);
  const countdown = notice.locator('.error-notice__countdown');
  await expect(countdown).toHaveText(/^You can try again in \d+ s\.$/);
  const first = Number((await countdown.textContent())!.match(/\d+/)![0]);
  expect(first).toBeGreaterThan(0);
  expect(first).toBeLessThanOrEqual(retryAfter);
  await expect(countdown).not.toHaveText(`You can try again in ${first} s.`, { timeout: 3_000 });

  // The button waits as long, and says so; nothing is sent meanwhile.
  await expect(button).toBeDisabled();
  await expect(button).toHaveText(/^Sign in again in \d+ s$/);
  let sent = 0;
  page.on('request', (r) => {
    if (r.url().endsWith('/api/session') && r.method() === 'POST') sent++;
  });
  await page.getByLabel('Password').press('Enter');
  // Another address need not wait for this one.
  await page.getByLabel('Email address').fill(`someone-else-${Date.now()}@example.com`);
  await expect(button).toBeEnabled();
  await expect(button).toHaveText('Sign in');
  await page.getByLabel('Email address').fill(address);
  await expect(button).toBeDisabled();
  expect(sent, 'no attempt sent while waiting').toBe(0);
});
