import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, BrowserContext, Page, test } from './fixtures';
import { signIn } from './helpers';

/** A server of a spec's own, from the same build as the shared one, on a fresh database: for
 * the specs that break it on purpose (stop it, hold its database, point it at a provider that
 * is not there). `cargo xtask test` says where the build is. */
export class OwnServer {
  readonly url: string;
  readonly database: string;
  private child: ChildProcess | null = null;

  private constructor(
    readonly port: number,
    readonly dataDir: string,
    private readonly env: Record<string, string>,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.database = join(dataDir, 'portal.db');
  }

  static async start(env: Record<string, string> = {}): Promise<OwnServer> {
    skipOnPostgres();
    const server = new OwnServer(await freePort(), mkdtempSync(join(tmpdir(), 'portal-spec-')), env);
    await server.start();
    return server;
  }

  /** Starts (again) on the same port and database. */
  async start(): Promise<void> {
    const binary = process.env.PORTAL_SERVER_BIN;
    if (!binary) throw new Error('PORTAL_SERVER_BIN is not set: run the specs through `cargo xtask test`');
    this.child = spawn(binary, [], {
      env: {
        ...process.env,
        PORTAL_ADDR: `127.0.0.1:${this.port}`,
        DATABASE_URL: `sqlite://${this.database}`,
        PORTAL_DATA_DIR: this.dataDir,
        PORTAL_DIST: process.env.PORTAL_DIST ?? 'dist',
        RUST_LOG: 'warn',
        PORTAL_DEMO_STEP_MS: '120',
        // The server seeds nothing unless asked: the specs sign in with the demo's accounts.
        PORTAL_SEED_DEMO: 'true',
        // The demo's tickets go to the HaloPSA built into the server, on loopback.
        PORTAL_ALLOW_PRIVATE_TARGETS: 'true',
        ...this.env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      try {
        if ((await fetch(`${this.url}/api/health`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the spec's own server did not answer on ${this.url} within 60 s`);
  }

  /** Stops the process, as a crash or a deployment would. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Another program takes the database's write lock and keeps it until released. */
  async holdDatabase(): Promise<{ release: () => Promise<void> }> {
    const holder = spawn('python3', ['-c', HOLD_SCRIPT, this.database], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.once('data', () => resolve());
      holder.once('exit', (code) => reject(new Error(`the lock holder exited with ${code}`)));
    });
    return {
      release: async () => {
        const exited = new Promise((resolve) => holder.once('exit', resolve));
        holder.stdin!.end();
        await exited;
      },
    };
  }

  /** Runs SQL on the database behind the server's back (a damaged row, say). */
  async sql(statement: string): Promise<void> {
    const child = spawn('python3', ['-c', SQL_SCRIPT, this.database, statement], { stdio: 'inherit' });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`python3 sqlite3 exited with ${code}`);
  }
}

const HOLD_SCRIPT = `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
sys.stdin.read()
db.execute("ROLLBACK")
`;

const SQL_SCRIPT = `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
db.execute(sys.argv[2])
db.commit()
`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const contexts: BrowserContext[] = [];

/** A page signed in on a server of the spec's own. */
export async function signedIn(browser: Browser, server: OwnServer, email: string): Promise<Page> {
  const context = await browser.newContext({ baseURL: server.url });
  contexts.push(context);
  const page = await context.newPage();
  await signIn(page, email);
  return page;
}

/** Closes the spec's pages before its server goes, so that nothing keeps polling it. */
async function dispose(server: OwnServer) {
  for (const context of contexts.splice(0)) await context.close();
  await server.dispose();
}

/** A server of the describe's own, started (with this environment) before each of its specs
 * and gone after it. */
/** The pass of `cargo xtask test` whose shared server is on PostgreSQL skips the specs that
 * break a server of their own (it is on SQLite; they ran in the SQLite pass). */
function skipOnPostgres(): void {
  test.skip(process.env.PORTAL_E2E_DATABASE === 'postgres', 'breaks a server of its own on SQLite: run in the SQLite pass');
}

export function ownServerEach(env: Record<string, string> = {}): () => OwnServer {
  skipOnPostgres();
  let server: OwnServer;
  test.beforeEach(async () => {
    server = await OwnServer.start(env);
  });
  test.afterEach(async () => {
    await dispose(server);
  });
  return () => server;
}
