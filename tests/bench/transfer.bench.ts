import { Browser, BrowserContext, CDPSession, expect, Page, test } from '@playwright/test';

// The bytes the portal costs on the wire, and the time each page takes to open the first time:
// printed as `BENCH name=value` lines for `cargo xtask bench transfer` to set against budgets.

/** Bytes on the wire (headers and compressed body, as the browser counts them) of every
 * request of a page, read from the DevTools protocol. */
class Wire {
  private finished = new Map<string, { url: string; bytes: number }>();
  private urls = new Map<string, string>();
  private encodings = new Map<string, string>();

  static async watch(page: Page): Promise<Wire> {
    const wire = new Wire();
    const cdp: CDPSession = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.responseReceived', (event) => {
      wire.urls.set(event.requestId, event.response.url);
      const encoding = Object.entries(event.response.headers).find(([name]) => name.toLowerCase() === 'content-encoding');
      wire.encodings.set(event.response.url, encoding ? String(encoding[1]) : 'identity');
    });
    cdp.on('Network.loadingFinished', (event) => {
      wire.finished.set(event.requestId, { url: wire.urls.get(event.requestId) ?? '?', bytes: event.encodedDataLength });
    });
    return wire;
  }

  reset() {
    this.finished.clear();
  }

  total(filter: (url: string) => boolean = () => true): number {
    return [...this.finished.values()].filter((r) => filter(r.url)).reduce((sum, r) => sum + r.bytes, 0);
  }

  list(): { url: string; bytes: number }[] {
    return [...this.finished.values()];
  }

  encodingOf(suffix: string): string | undefined {
    return [...this.encodings.entries()].find(([url]) => url.endsWith(suffix))?.[1];
  }
}

const kb = (bytes: number) => (bytes / 1024).toFixed(1);

/** Opens the sign-in page in `context` and waits until its form can be used. */
async function openSignIn(page: Page) {
  await page.goto('/sign-in');
  await expect(page.getByLabel('Email address')).toBeEditable();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeEnabled();
}

async function firstLoad(browser: Browser, acceptEncoding?: string): Promise<{ context: BrowserContext; page: Page; wire: Wire }> {
  const context = await browser.newContext(acceptEncoding ? { extraHTTPHeaders: { 'Accept-Encoding': acceptEncoding } } : {});
  const page = await context.newPage();
  const wire = await Wire.watch(page);
  await openSignIn(page);
  return { context, page, wire };
}

test('what the portal costs on the wire', async ({ browser }) => {
  // A first visit: everything from the address typed until the sign-in form can be used.
  const brotli = await firstLoad(browser);
  for (const { url, bytes } of brotli.wire.list()) console.log(`  ${kb(bytes).padStart(8)} KB  ${new URL(url).pathname}`);
  console.log(`BENCH first_load_kb=${kb(brotli.wire.total())}`);
  console.log(`BENCH first_load_wasm_encoding=${brotli.wire.encodingOf('portal_bg.wasm')}`);

  // A second visit in the same browser: only index.html is asked for again.
  brotli.wire.reset();
  await openSignIn(brotli.page);
  for (const { url, bytes } of brotli.wire.list()) console.log(`  second visit: ${kb(bytes).padStart(8)} KB  ${new URL(url).pathname}`);
  console.log(`BENCH second_visit_kb=${kb(brotli.wire.total())}`);
  await brotli.context.close();

  // The same first visit for a browser that takes only gzip (plain HTTP, older clients).
  const gzip = await firstLoad(browser, 'gzip');
  console.log(`BENCH first_load_gzip_kb=${kb(gzip.wire.total())}`);
  console.log(`BENCH first_load_gzip_wasm_encoding=${gzip.wire.encodingOf('portal_bg.wasm')}`);
  await gzip.context.close();
});

type Route = { path: string; heading: string };

async function routes(page: Page): Promise<Route[]> {
  const list: Route[] = [
    { path: '/status/backups', heading: 'Backups' },
    { path: '/status/migrates', heading: 'Migrates' },
    { path: '/status/restores', heading: 'Restores' },
    { path: '/status/downloads', heading: 'Downloads' },
    { path: '/settings/credentials', heading: 'Credentials' },
    { path: '/settings/mailboxes', heading: 'Mailboxes' },
    { path: '/errors', heading: 'Error types' },
    { path: '/settings/integrations', heading: 'Integrations' },
    { path: '/settings/deliveries', heading: 'Deliveries' },
    { path: '/settings/tokens', heading: 'API tokens' },
    { path: '/settings/activity', heading: 'Activity' },
    { path: '/messages', heading: 'Search messages' },
    { path: '/settings/retention', heading: 'Retention' },
    { path: '/account/security', heading: 'Security' },
  ];
  for (const [kind, noun] of [['migrate', 'Migration'], ['restore', 'Restore'], ['download', 'Download']]) {
    const id: string = (await (await page.request.get(`/api/jobs?kind=${kind}&per_page=1`)).json()).items[0].id;
    list.push({ path: `/status/${kind}s/${id}`, heading: `${noun} ${id}` });
  }
  return list;
}

/** Follows a link to `path` from inside the page and measures, in the page, the time until
 * the new page's heading is drawn (its code fetched, linked and run). */
async function openFromLink(page: Page, route: Route): Promise<number> {
  return page.evaluate(
    ({ path, heading }) =>
      new Promise<number>((resolve, reject) => {
        const drawn = () => [...document.querySelectorAll('h1')].some((h) => h.textContent!.trim() === heading);
        const link = document.createElement('a');
        link.href = path;
        link.textContent = heading;
        document.body.append(link);
        const started = performance.now();
        const watcher = new MutationObserver(() => {
          if (!drawn()) return;
          watcher.disconnect();
          requestAnimationFrame(() => resolve(performance.now() - started));
        });
        watcher.observe(document.body, { childList: true, subtree: true, characterData: true });
        setTimeout(() => reject(new Error(`${path}: no heading "${heading}" within 10 s`)), 10_000);
        link.click();
        link.remove();
      }),
    route,
  );
}

test('each page opened the first time after signing in', async ({ browser }) => {
  const probe = await browser.newPage();
  await openSignIn(probe);
  await probe.getByLabel('Email address').fill('reseller@northwind.example');
  await probe.getByLabel('Password').fill('demo-portal');
  await probe.getByRole('button', { name: 'Sign in' }).click();
  await expect(probe.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible();
  const all = await routes(probe);
  await probe.context().close();

  for (const route of all) {
    // A fresh browser each time: nothing of another page is in its cache.
    const context = await browser.newContext();
    const page = await context.newPage();
    const wire = await Wire.watch(page);
    await openSignIn(page);
    await page.getByLabel('Email address').fill('reseller@northwind.example');
    await page.getByLabel('Password').fill('demo-portal');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('heading', { name: 'Backup dashboard' })).toBeVisible();
    // Let the prefetch of the likely pages finish, as it would while the person reads.
    await page.waitForLoadState('networkidle');
    await page.waitForTimeout(300);
    wire.reset();
    const ms = await openFromLink(page, route);
    const code = wire.total((url) => new URL(url).pathname.startsWith('/pkg/'));
    console.log(`BENCH open ${route.path} ms=${ms.toFixed(0)} code_kb=${kb(code)}`);
    await context.close();
  }
});
