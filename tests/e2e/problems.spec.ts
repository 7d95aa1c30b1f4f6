import { expect, test } from './fixtures';
import { expectExplained, ORG_ADMIN, signIn } from './helpers';

test('the Problems panel lists the session\'s failed requests with what the console would show', async ({ page }) => {
  await signIn(page, ORG_ADMIN); // migrations are started by admins
  const toggle = page.getByRole('button', { name: /^Problems/ });
  await toggle.click();
  const panel = page.getByRole('region', { name: 'Problems in this session' });
  await expect(panel).toContainText('No request has failed in this session.');
  await page.keyboard.press('Escape');
  await expect(panel).toHaveCount(0);

  // A refused form: marked on its field where it happened, and listed in the panel.
  await page.goto('/status/migrates');
  await page.getByRole('button', { name: 'New migration' }).click();
  const form = page.getByRole('form', { name: 'New migration' });
  await form.getByLabel('Migrate to (mailbox address)').fill('not an address');
  await form.getByRole('button', { name: 'Start migration' }).click();
  await expect(form.locator('#new-job-destination-error')).not.toBeEmpty();
  // Summed up under the form too, with the request ID to quote.
  await expectExplained(page, form.getByRole('alert'), {
    heading: '422 · Some fields are not valid',
    todo: 'Correct each field marked in the form',
    method: 'POST',
    path: '/api/jobs',
  });

  await expect(toggle).toHaveText('Problems · 1');
  await toggle.click();
  const entry = panel.getByRole('listitem').first();
  await expect(entry).toContainText('POST /api/jobs');
  await expect(entry).toContainText('422 · Some fields are not valid');
  await expect(entry.locator('.problems-panel__fields')).toContainText('destination:');
  await expect(entry.locator('.problems-panel__request code')).toHaveText(/^[0-9a-f]{24}$/);
  await expect(entry.locator('time')).toHaveText(/\d{1,2}:\d{2}:\d{2}/);

  await panel.getByRole('button', { name: 'Clear' }).click();
  await expect(panel).toContainText('No request has failed in this session.');
  await expect(toggle).toHaveText('Problems');
});
