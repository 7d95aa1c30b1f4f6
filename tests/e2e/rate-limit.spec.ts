import { expect, test } from './fixtures';
import { expectExplained, signIn } from './helpers';

/** A countdown's words: "… in 45 s.", "… in 14 min 57 s.", "… in 2 min.". */
const WAIT = /^You can try again in (\d+ min( \d+ s)?|\d+ s)\.$/;
const WAIT_BY_ITSELF = /^Trying again by itself in (\d+ min( \d+ s)?|\d+ s)\.$/;

/** The seconds a countdown's words stand for. */
function secondsIn(text: string): number {
  const minutes = text.match(/(\d+) min/);
  const seconds = text.match(/(\d+) s\b/);
  return (minutes ? Number(minutes[1]) * 60 : 0) + (seconds ? Number(seconds[1]) : 0);
}

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
  await expect(notice.locator('.error-notice__countdown')).toHaveText(WAIT_BY_ITSELF);
  const shown = (await notice.locator('.error-notice__countdown').textContent())!;
  expect(secondsIn(shown)).toBeGreaterThan(30); // the minute started with this spec's own attempts
  await expect(notice.locator('.error-notice__countdown')).not.toHaveText(shown, { timeout: 3_000 });

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
  const button = page.locator('.sign-in__form button[type="submit"]');
  await expect(button).toHaveText('Sign in');
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

  // Said where the user signed in, with what to do, the request ID and the time left, in
  // minutes and seconds (the address waits out the server's 15-minute window).
  const notice = page.locator('.error-notice').filter({ has: page.locator('.error-notice__heading', { hasText: /^429 · / }) });
  await expect(notice).toHaveRole('alert');
  await expect(notice.locator('.error-notice__todo')).toContainText('Wait a moment before trying again.');
  await expect(notice.locator('.error-notice__request-id')).toHaveText(refused!.headers()['x-request-id']);
  const countdown = notice.locator('.error-notice__countdown');
  await expect(countdown).toHaveText(WAIT);
  const first = secondsIn((await countdown.textContent())!);
  expect(first).toBeGreaterThan(0);
  expect(first).toBeLessThanOrEqual(retryAfter);
  if (retryAfter >= 60) await expect(countdown).toHaveText(/^You can try again in \d+ min( \d+ s)?\.$/);
  const shown = (await countdown.textContent())!;
  await expect(countdown).not.toHaveText(shown, { timeout: 3_000 });

  // The button waits as long, and says so, without giving up the focus (a disabled button
  // would drop it to the page); nothing is sent meanwhile, from the button or from Enter.
  await expect(button).toHaveAttribute('aria-disabled', 'true');
  await expect(button).not.toHaveAttribute('disabled');
  await expect(button).toHaveText('Wait to sign in');
  const sent: string[] = [];
  page.on('request', (r) => {
    if (r.url().endsWith('/api/session') && r.method() === 'POST') sent.push(JSON.parse(r.postData() ?? '{}').email);
  });
  await button.click({ force: true }); // Playwright itself waits for an aria-disabled button
  await expect(button).toBeFocused();
  await expect(button).toHaveText('Wait to sign in');
  await page.getByLabel('Password').press('Enter');

  // Another address need not wait for this one, and the notice about this one goes.
  const elsewhere = `someone-else-${Date.now()}@example.com`;
  await page.getByLabel('Email address').fill(elsewhere);
  await expect(button).not.toHaveAttribute('aria-disabled');
  await expect(button).toHaveText('Sign in');
  await expect(notice).toHaveCount(0);
  // Back to the address that waits: the button waits again, and the notice counts down what
  // is left, not the whole wait again.
  const before = secondsIn(shown);
  await page.getByLabel('Email address').fill(address);
  await expect(button).toHaveAttribute('aria-disabled', 'true');
  await expect(countdown).toHaveText(WAIT);
  expect(secondsIn((await countdown.textContent())!)).toBeLessThan(before);

  // Enter sends another address at once: had the Enter or the click above been sent, it
  // would have come first.
  await page.getByLabel('Email address').fill(elsewhere);
  const other = page.waitForRequest((r) => r.url().endsWith('/api/session') && r.method() === 'POST');
  await page.getByLabel('Password').press('Enter');
  await other;
  expect(sent, 'only the other address was sent').toEqual([elsewhere]);
  await expect(page.locator('.error-notice__heading')).toHaveText(/^401 · /);
});
