import { expect, test } from '@playwright/test';

const RUNS = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

test('portal timings', async ({ page, browser }) => {
  await page.goto('/sign-in');
  await page.getByLabel('Email address').fill('reseller@northwind.example');
  await page.getByLabel('Password').fill('demo-portal');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible();
  const nav = page.getByRole('navigation', { name: 'Main' });

  // First 50 rows of the reseller's restores (10,000+ jobs): from the click to the rows on screen.
  const firstRows: number[] = [];
  const filters: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    await nav.getByRole('link', { name: 'Dashboard' }).click();
    await expect(page.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible();
    const started = await page.evaluate(() => performance.now());
    await nav.getByRole('link', { name: 'Restores', exact: true }).click();
    await page.waitForFunction(() => document.querySelectorAll('.backups-table__row').length === 50);
    firstRows.push((await page.evaluate(() => performance.now())) - started);

    // Apply a filter: from the click on a status chip to the filtered rows on screen.
    const chip = page.getByRole('navigation', { name: 'Filter by status' }).getByRole('link', { name: /^Cancelled \d+$/ });
    const before = await page.evaluate(() => performance.now());
    await chip.click();
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('.backups-table__row')];
      return rows.length > 0 && rows.every((row) => row.getAttribute('data-status') === 'cancelled');
    });
    filters.push((await page.evaluate(() => performance.now())) - before);
  }
  console.log(`BENCH first_rows_ms=${median(firstRows).toFixed(1)}`);
  console.log(`BENCH apply_filter_ms=${median(filters).toFixed(1)}`);

  // A job change made elsewhere, until an open page shows it.
  const other = await browser.newPage();
  await other.goto('/sign-in');
  await other.getByLabel('Email address').fill('reseller@northwind.example');
  await other.getByLabel('Password').fill('demo-portal');
  await other.getByRole('button', { name: 'Sign in' }).click();
  await expect(other.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible();
  const session = await (await other.request.get('/api/session')).json();
  const latencies: number[] = [];
  const list = await (await other.request.get('/api/backups?status=completed&per_page=50')).json();
  for (let run = 0; run < RUNS; run++) {
    const target = list.items[run];
    await page.goto(`/status/backups?q=${encodeURIComponent(target.mailbox_email)}`);
    await expect(page.locator('.backups__updated')).toHaveText(/^Live/);
    await expect(page.locator('.backups-table__row .status-badge')).toHaveText('Completed');
    const before = Date.now();
    const forced = await other.request.post(`/api/backups/${target.mailbox_id}/force`, { headers: { 'x-csrf-token': session.csrf_token } });
    expect(forced.status()).toBe(202);
    await expect(page.locator('.backups-table__row .status-badge')).not.toHaveText('Completed', { timeout: 10_000 });
    latencies.push(Date.now() - before);
  }
  console.log(`BENCH change_visible_ms=${median(latencies).toFixed(1)}`);
});
