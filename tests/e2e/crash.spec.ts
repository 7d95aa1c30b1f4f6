import { expect, test } from './fixtures';
import { RESELLER } from './helpers';
import { ownServerEach, signedIn } from './own-server';

// A server killed mid-run (SIGKILL, as a crash would): the runs it held never pretend to be
// running. They say Interrupted, with how far they got, until a worker takes them over, then
// finish. One worker after the restart, so that several wait their turn in view.
test.describe('after a crash', () => {
  const server = ownServerEach({ PORTAL_DEMO_STEP_MS: '300', PORTAL_LEASE_SECONDS: '2', PORTAL_WORKERS: '1' });

  test('the runs a killed server held say Interrupted until a worker takes them over, then finish', async ({ browser }) => {
    test.setTimeout(120_000);
    const page = await signedIn(browser, server(), RESELLER);
    await page.goto('/status/backups?status=in_progress');
    // A run under way: its bar moves, it is not interrupted.
    const running = page.locator('.backups-table__row').filter({ has: page.locator('.status-badge', { hasText: /^In Progress$/ }) });
    await expect(running.first()).toBeVisible({ timeout: 30_000 });
    const email = (await running.first().locator('.backups-table__email').textContent())!;

    await server().stop();
    // Longer than the claim's lease: nobody holds these runs any more.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await server().start();

    await page.goto('/status/backups?status=in_progress');
    const interrupted = page.locator('.backups-table__row').filter({ has: page.locator('.status-badge', { hasText: /^Interrupted$/ }) });
    await expect(interrupted.first()).toBeVisible();
    await expect(interrupted.first().locator('.job-run__line')).toContainText(/^Interrupted( at \d+%)? · continues when a worker is free/);

    // Each is taken over in turn and ends; the one seen running before the crash completes.
    await expect(interrupted).toHaveCount(0, { timeout: 90_000 });
    await page.goto(`/status/backups?q=${encodeURIComponent(email)}`);
    await expect(page.locator('.backups-table__row .status-badge')).toHaveText(/^(Completed|Partially Complete|Retrying|Connection Error|Authentication Error|Space Full)$/, { timeout: 30_000 });
    await expect(page.locator('.backups-table__row .status-badge')).not.toHaveText(/Interrupted|In Progress/);
  });
});
