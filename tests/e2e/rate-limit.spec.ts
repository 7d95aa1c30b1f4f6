import { expect, test } from '@playwright/test';
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
