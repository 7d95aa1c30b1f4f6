import { expect, Page } from '@playwright/test';

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
  await expect(page.getByRole('heading', { name: 'Backups' })).toBeVisible();
}

/** The Mailbox Email IDs in the Backups table. */
export async function mailboxIds(page: Page): Promise<string[]> {
  await expect(page.locator('.backups-table__row').first()).toBeVisible();
  return page.locator('.backups-table__email').allTextContents();
}
