import { test as base, expect } from '@playwright/test';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from '@playwright/test';

export { expect };
export type { Browser, BrowserContext, Locator, Page, Response } from '@playwright/test';

/** One refusal of the page's Content-Security-Policy, as the browser reported it. */
export interface CspViolation {
  /** Unique within the run, so that the same report read twice counts once. */
  id: string;
  directive: string;
  blocked: string;
  page: string;
  source: string;
  sample: string;
}

/** The binding and the array the init script reports into (the array survives until the
 * document goes; the binding reaches the test at once). */
const BINDING = '__portalCspViolation';
const ARRAY = '__cspViolations';

/** Runs in every document before its own scripts: listens for the browser's own report of
 * each refusal (`securitypolicyviolation`). */
function listen({ binding, array }: { binding: string; array: string }) {
  const w = window as unknown as Record<string, unknown>;
  if (w[array]) return;
  const seen: unknown[] = [];
  w[array] = seen;
  document.addEventListener(
    'securitypolicyviolation',
    (event) => {
      const violation = {
        id: `${Date.now()}-${Math.random().toString(36).slice(2)}`,
        directive: event.effectiveDirective || event.violatedDirective,
        blocked: event.blockedURI || '(none)',
        page: event.documentURI,
        source: event.sourceFile ? `${event.sourceFile}:${event.lineNumber}:${event.columnNumber}` : '',
        sample: event.sample ?? '',
      };
      seen.push(violation);
      const report = w[binding];
      if (typeof report === 'function') void report(violation);
    },
    true,
  );
}

/** Everything the browser refused because of the policy, in every page of every context the
 * test opened (the `context` fixture, and any from `browser.newContext` / `browser.newPage`). */
export class CspWatch {
  private readonly violations: CspViolation[] = [];
  private readonly messages: string[] = [];
  private readonly ids = new Set<string>();
  private readonly contexts = new Set<BrowserContext>();

  async attach(context: BrowserContext): Promise<void> {
    if (this.contexts.has(context)) return;
    this.contexts.add(context);
    await context.exposeBinding(BINDING, (_source, violation: CspViolation) => this.record(violation));
    await context.addInitScript(listen, { binding: BINDING, array: ARRAY });
    context.on('console', (message) => {
      const text = message.text();
      if (/Content[- ]Security[- ]Policy/i.test(text)) this.messages.push(`${message.location().url || message.page()?.url() || ''}: ${text}`);
    });
    context.on('close', () => this.contexts.delete(context));
    // A context or page closed before the test ends (by a spec, or in `test.afterEach`) is gone
    // by the time `collect` runs: what its pages hold is read as it closes.
    const closeContext = context.close.bind(context);
    context.close = (async (options?: Parameters<BrowserContext['close']>[0]) => {
      await this.collectFrom(context);
      return closeContext(options);
    }) as BrowserContext['close'];
    const watchPage = (page: Page) => {
      const closePage = page.close.bind(page);
      page.close = (async (options?: Parameters<Page['close']>[0]) => {
        await this.collectPage(page);
        return closePage(options);
      }) as Page['close'];
    };
    context.pages().forEach(watchPage);
    context.on('page', watchPage);
  }

  private record(violation: CspViolation) {
    if (this.ids.has(violation.id)) return;
    this.ids.add(violation.id);
    this.violations.push(violation);
  }

  /** Reads what the open pages hold but has not arrived yet. */
  async collect(): Promise<void> {
    for (const context of this.contexts) await this.collectFrom(context);
  }

  private async collectFrom(context: BrowserContext): Promise<void> {
    for (const page of context.pages()) await this.collectPage(page);
  }

  private async collectPage(page: Page): Promise<void> {
    if (page.isClosed()) return;
    const held = await page
      .evaluate((array) => ((window as unknown as Record<string, unknown>)[array] as CspViolation[] | undefined) ?? [], ARRAY)
      .catch(() => [] as CspViolation[]);
    held.forEach((violation) => this.record(violation));
  }

  /** What was recorded so far (browser events and console messages). */
  recorded(): { violations: CspViolation[]; messages: string[] } {
    return { violations: [...this.violations], messages: [...this.messages] };
  }

  /** Hands over what was recorded and forgets it: for the spec that breaks the policy on
   * purpose. Anything recorded later still fails the test. */
  take(): { violations: CspViolation[]; messages: string[] } {
    const taken = this.recorded();
    this.violations.length = 0;
    this.messages.length = 0;
    return taken;
  }

  /** Fails the test, naming each directive and what it blocked, if anything was refused. */
  assertNone(): void {
    if (this.violations.length === 0 && this.messages.length === 0) return;
    const lines = [
      ...this.violations.map(
        (v) =>
          `- ${v.directive} blocked ${v.blocked} on ${v.page}${v.source ? ` (from ${v.source})` : ''}${v.sample ? ` «${v.sample}»` : ''}`,
      ),
      ...this.messages.map((m) => `- console: ${m}`),
    ];
    throw new Error(`The page broke its Content-Security-Policy:\n${lines.join('\n')}`);
  }
}

/** Every spec imports `test` and `expect` from here: a test in which any page breaks the
 * Content-Security-Policy fails at its end, naming the directive and what was blocked. */
export const test = base.extend<{ csp: CspWatch }>({
  csp: [
    async ({ browser }, use) => {
      const watch = new CspWatch();
      const original = browser.newContext;
      // `browser.newPage` makes its context through this too.
      const patched: Browser['newContext'] = async function (this: Browser, options?: BrowserContextOptions) {
        const context = await original.call(this, options);
        await watch.attach(context);
        return context;
      };
      browser.newContext = patched;
      try {
        await use(watch);
        await watch.collect();
      } finally {
        browser.newContext = original;
      }
      watch.assertNone();
    },
    { auto: true },
  ],
  context: async ({ context, csp }, use) => {
    await csp.attach(context);
    await use(context);
    await csp.collect();
  },
});
