import { expect, test } from './fixtures';
import type { Page } from './fixtures';
import { DEMO_PASSWORD, RESELLER } from './helpers';

// Every page but sign-in is a chunk of code of its own, fetched when first opened: a chunk that
// fails to load or to link shows only in a browser, at that moment. So every route is opened
// from a cold start (a fresh browser, its address typed in) and from the navigation, and any
// error the page throws fails the test.

type Route = { path: string; heading: string | RegExp; title: string | RegExp };

const LISTS: Route[] = [
  { path: '/', heading: 'Backup dashboard', title: 'Backup dashboard · Backup Portal' },
  { path: '/status/backups', heading: 'Backups', title: 'Backups · Backup Portal' },
  { path: '/status/migrates', heading: 'Migrates', title: 'Migrates · Backup Portal' },
  { path: '/status/restores', heading: 'Restores', title: 'Restores · Backup Portal' },
  { path: '/status/downloads', heading: 'Downloads', title: 'Downloads · Backup Portal' },
  { path: '/settings/credentials', heading: 'Credentials', title: 'Credentials · Backup Portal' },
  { path: '/settings/mailboxes', heading: 'Mailboxes', title: 'Mailboxes · Backup Portal' },
  { path: '/errors', heading: 'Error types', title: 'Error types · Backup Portal' },
  { path: '/settings/integrations', heading: 'Integrations', title: 'Integrations · Backup Portal' },
  { path: '/settings/deliveries', heading: 'Deliveries', title: 'Deliveries · Backup Portal' },
  { path: '/settings/tokens', heading: 'API tokens', title: 'API tokens · Backup Portal' },
  { path: '/settings/activity', heading: 'Activity', title: 'Activity · Backup Portal' },
  { path: '/messages', heading: 'Search messages', title: 'Search messages · Backup Portal' },
  { path: '/settings/retention', heading: 'Retention', title: 'Retention · Backup Portal' },
  { path: '/account/security', heading: 'Security', title: 'Security · Backup Portal' },
];

/** One job of each kind, for the pages of a single job. */
async function jobRoutes(page: Page): Promise<Route[]> {
  const routes: Route[] = [];
  for (const [kind, noun] of [['migrate', 'Migration'], ['restore', 'Restore'], ['download', 'Download']]) {
    const answer = await page.request.get(`/api/jobs?kind=${kind}&per_page=1`);
    expect(answer.status()).toBe(200);
    const id: string = (await answer.json()).items[0].id;
    routes.push({ path: `/status/${kind}s/${id}`, heading: `${noun} ${id}`, title: `${noun} ${id} · Backup Portal` });
  }
  // A message's preview: dora's about the pelican crossing (the demo IMAP mailbox), once
  // her first backup holds it.
  let message: { id: number; subject: string } | undefined;
  await expect
    .poll(async () => (message = (await (await page.request.get('/api/messages?q=pelican&per_page=1')).json()).items?.[0]), { timeout: 60_000 })
    .toBeTruthy();
  const subject = message!.subject.trim() || '(no subject)';
  routes.push({ path: `/messages/${message!.id}`, heading: subject, title: `${subject} · Backup Portal` });
  return routes;
}

/** Fails the test on any error the page throws (a chunk that did not load or link is one). */
function failOnErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && /wasm|chunk|split|RuntimeError|unreachable|panicked/i.test(message.text())) {
      errors.push(message.text());
    }
  });
  return errors;
}

async function signInHere(page: Page) {
  await expect(page).toHaveURL(/\/sign-in/);
  await expect(page).toHaveTitle('Sign in to Backup Portal · Backup Portal');
  await page.getByLabel('Email address').fill(RESELLER);
  await page.getByLabel('Password').fill(DEMO_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('every page opens from a cold start: a fresh browser, its address typed in, signed in on the way', async ({ browser }) => {
  // A fresh browser and a sign-in for each page, about two seconds each: more than the default 30 s.
  test.setTimeout(90_000);
  const first = await browser.newPage();
  await first.goto('/sign-in');
  await signInHere(first);
  await expect(first.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible();
  const routes = [...LISTS, ...(await jobRoutes(first))];
  await first.context().close();

  for (const route of routes) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = failOnErrors(page);
    await page.goto(route.path);
    await signInHere(page);
    // Back where the address pointed, with that page's code loaded and running.
    await expect(page).toHaveURL(new RegExp(`${route.path.replace(/[/?]/g, '\\$&')}$`));
    await expect(page.getByRole('heading', { level: 1, name: route.heading })).toBeVisible();
    await expect(page).toHaveTitle(route.title);
    expect(errors, `errors on ${route.path}`).toEqual([]);
    await context.close();
  }
});

test('every page opens from the navigation, and the focus goes to its heading', async ({ page }) => {
  const errors = failOnErrors(page);
  await page.goto('/sign-in');
  await signInHere(page);
  await expect(page.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible();
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const [link, route] of [
    ['Migrates', LISTS[2]],
    ['Restores', LISTS[3]],
    ['Downloads', LISTS[4]],
    ['Credentials', LISTS[5]],
    ['Mailboxes', LISTS[6]],
    ['Error types', LISTS[7]],
    ['Integrations', LISTS[8]],
    ['Deliveries', LISTS[9]],
    ['API tokens', LISTS[10]],
    ['Activity', LISTS[11]],
    ['Search messages', LISTS[12]],
    ['Retention', LISTS[13]],
    ['Security', LISTS[14]],
    ['Dashboard', LISTS[0]],
    ['Backups', LISTS[1]],
  ] as const) {
    // With the keyboard alone, as a person without a mouse would.
    await nav.getByRole('link', { name: link, exact: true }).focus();
    await page.keyboard.press('Enter');
    await expect(page).toHaveURL(new RegExp(`${route.path.replace(/\//g, '\\/')}$`));
    await expect(page.getByRole('heading', { level: 1, name: route.heading })).toBeFocused();
    await expect(page).toHaveTitle(route.title);
  }
  // Tab goes on from the heading into the page (Backups' search), not back to the header.
  await page.keyboard.press('Tab');
  expect(await page.evaluate(() => document.activeElement?.closest('main') !== null)).toBe(true);

  // The page of one job, from its ID in a list.
  for (const [list, noun] of [['Restores', 'Restore'], ['Migrates', 'Migration'], ['Downloads', 'Download']]) {
    await nav.getByRole('link', { name: list, exact: true }).click();
    const link = page.locator('.backups-table__row').first().locator('a:has(code)');
    const id = (await link.textContent())!.trim();
    await link.click();
    await expect(page.getByRole('heading', { level: 1, name: `${noun} ${id}` })).toBeFocused();
    await expect(page).toHaveTitle(`${noun} ${id} · Backup Portal`);
  }
  expect(errors).toEqual([]);
});
