import { expect, Locator, Page } from './fixtures';

export const DEMO_PASSWORD = 'demo-portal';
/** The demo mailboxes' own mail-server password (Edit on a refused restore). */
export const DEMO_MAILBOX_PASSWORD = 'mailbox-demo';
export const END_USER = 'alice.archer@acme-legal.example';
export const ORG_ADMIN = 'admin@acme-legal.example';
export const RESELLER = 'reseller@northwind.example';

/** Signs in through the sign-in page, as a person would, lands on the dashboard, and opens
 * System Status › Backups from the navigation. */
export async function signIn(page: Page, email: string, password = DEMO_PASSWORD) {
  await page.goto('/');
  await expect(page).toHaveURL(/\/sign-in/);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Backups', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Backups', level: 1 })).toBeVisible();
}

/** The Mailbox Email IDs in the Backups table. */
export async function mailboxIds(page: Page): Promise<string[]> {
  await expect(page.locator('.backups-table__row').first()).toBeVisible();
  // Read once drawn: a live update may be redrawing the rows at that moment.
  let ids: string[] = [];
  await expect.poll(async () => (ids = await page.locator('.backups-table__email').allTextContents()).length).toBeGreaterThan(0);
  return ids;
}

/** What every failed request must show where it happened, and in the Problems panel: the
 * status with its meaning, what to do, the request ID (none when nothing answered), and an
 * entry with the method and path. Returns the request ID. */
export async function expectExplained(
  page: Page,
  notice: Locator,
  expected: { heading: string | RegExp; todo: string | RegExp; method: string; path: string; answered?: boolean },
): Promise<string | null> {
  await expect(notice.locator('.error-notice__heading')).toHaveText(expected.heading);
  await expect(notice.locator('.error-notice__detail')).not.toBeEmpty();
  await expect(notice.locator('.error-notice__todo')).toContainText(expected.todo);
  let requestId: string | null = null;
  if (expected.answered === false) {
    await expect(notice.locator('.error-notice__request-id')).toHaveCount(0);
  } else {
    requestId = await notice.locator('.error-notice__request-id').textContent();
    expect(requestId).toMatch(/^[0-9a-f]{24}$/);
  }

  const toggle = page.getByRole('button', { name: /^Problems/ });
  await toggle.click();
  const panel = page.getByRole('region', { name: 'Problems in this session' });
  const entries = panel.getByRole('listitem').filter({ hasText: `${expected.method} ${expected.path}` });
  const entry = requestId ? entries.filter({ hasText: requestId }) : entries.last();
  await expect(entry).toHaveCount(1);
  const status = (await notice.locator('.error-notice__heading').textContent())!.match(/^\d{3}/)?.[0] ?? 'no answer';
  await expect(entry.locator('.problems-panel__answer')).toContainText(`${status} · `);
  await expect(entry.locator('.problems-panel__detail')).not.toBeEmpty();
  await page.keyboard.press('Escape');
  await expect(panel).toHaveCount(0);
  return requestId;
}
