import { expect, Page, test } from '@playwright/test';

const RUNS = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

type Ready = 'first-50-rows' | 'all-cancelled';

/** Clicks the link named `name` inside `container` from within the page, and measures from the
 * click to the first animation frame after the rows are in the document (`ready`): what the
 * person waits for. Measured inside the page, so that the test driver's own round trips
 * (tens of ms) are not counted. */
async function clickToRows(page: Page, container: string, name: RegExp, ready: Ready): Promise<number> {
  return page.evaluate(
    ({ container, source, flags, ready }) =>
      new Promise<number>((resolve, reject) => {
        const pattern = new RegExp(source, flags);
        const find = () =>
          [...document.querySelectorAll<HTMLAnchorElement>(`${container} a`)].find((a) =>
            pattern.test(a.textContent!.trim().replace(/\s+/g, ' ')),
          );
        const done = () => {
          const rows = [...document.querySelectorAll('.backups-table__row')];
          return ready === 'first-50-rows'
            ? rows.length === 50
            : rows.length > 0 && rows.every((row) => row.getAttribute('data-status') === 'cancelled');
        };
        const giveUpAt = performance.now() + 5_000;
        // The link may be redrawn (its count refreshed) just now: wait until it is there.
        const start = () => {
          const link = find();
          if (!link) {
            if (performance.now() > giveUpAt) return reject(new Error(`no link ${source} in ${container}`));
            return setTimeout(start, 20);
          }
          const started = performance.now();
          const watcher = new MutationObserver(() => {
            if (!done()) return;
            watcher.disconnect();
            requestAnimationFrame(() => resolve(performance.now() - started));
          });
          watcher.observe(document.body, { childList: true, subtree: true, attributes: true });
          link.click();
        };
        start();
      }),
    { container, source: name.source, flags: name.flags, ready },
  );
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
    firstRows.push(await clickToRows(page, 'nav[aria-label="Main"]', /^Restores$/, 'first-50-rows'));

    // Apply a filter: from the click on a status chip to the filtered rows on screen.
    const chips = page.getByRole('navigation', { name: 'Filter by status' });
    await expect(chips.getByRole('link', { name: /^Cancelled \d+$/ })).toBeVisible();
    filters.push(await clickToRows(page, 'nav[aria-label="Filter by status"]', /^Cancelled \d+$/, 'all-cancelled'));
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
