import { expect, test } from './fixtures';
import { DEMO_PASSWORD } from './helpers';

// Sign in with Microsoft, through the identity provider built into the server (it speaks
// OpenID Connect as Entra ID does): Cedar Logistics enforces it, so its admin's password is
// refused and the provider's page signs them in.

const SSO_ADMIN = 'admin@cedar-logistics.example';
const IDP_PASSWORD = 'idp-demo';

test('an admin of an organisation that enforces SSO signs in with Microsoft, not with a password', async ({ page }) => {
  await page.goto('/sign-in');
  await page.getByLabel('Email address').fill(SSO_ADMIN);
  await page.getByLabel('Password').fill(DEMO_PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page.getByText('signs in with Microsoft')).toBeVisible();

  await page.getByRole('link', { name: 'Sign in with Microsoft' }).click();
  // The provider's own page, the address passed on as a hint.
  await expect(page.getByRole('heading', { name: 'Sign in to Backup Portal' })).toBeVisible();
  await expect(page.getByLabel('Email address')).toHaveValue(SSO_ADMIN);
  await page.getByLabel('Password').fill(IDP_PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();

  await expect(page.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible();
  await expect(page.getByText('Kofi Mensah')).toBeVisible();
});

test('a cancelled sign-in with Microsoft comes back to the sign-in page and says so', async ({ page }) => {
  await page.goto('/sign-in');
  await page.getByRole('link', { name: 'Sign in with Microsoft' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in to Backup Portal' })).toBeVisible();
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(page).toHaveURL(/\/sign-in\?sso=cancelled/);
  await expect(page.getByRole('alert')).toContainText('was cancelled');
});
