// Headless Chromium for browser tests: Debian's `chromium` driven by playwright-core, a fresh
// profile per launch, a DevTools-protocol virtual authenticator for passkeys, and numbered
// screenshots under test-artifacts/screenshots/<test>/ kept as test artefacts.
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { ROOT } from './paths.ts';

export interface TestBrowser {
  page: Page;
  /** CDP virtual authenticator (ctap2, internal, resident keys, user verification, automatic presence); returns its id. */
  addVirtualAuthenticator(): Promise<string>;
  /** The credentials the virtual authenticator holds (CDP `WebAuthn.Credential` objects). */
  credentials(authenticatorId: string): Promise<unknown[]>;
  /** Saves test-artifacts/screenshots/<test>/<nn>-<name>.png and returns its path. */
  screenshot(name: string): Promise<string>;
  /** Console errors and uncaught page errors so far (a CSP violation shows up here). */
  consoleErrors: string[];
  close(): Promise<void>;
}

export const ARTIFACTS = path.join(ROOT, 'test-artifacts');

const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Debian's /usr/bin/chromium, else the first `chromium` on PATH; null if there is none. */
export function chromiumPath(): string | null {
  const candidates = ['/usr/bin/chromium', ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'chromium'))];
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here; try the next
    }
  }
  return null;
}

const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'unnamed';

export async function launchBrowser(options: { artifactsName?: string } = {}): Promise<TestBrowser> {
  const executablePath = chromiumPath();
  if (executablePath === null) {
    throw new Error('Chromium not found: install Debian\'s `chromium` package (expected /usr/bin/chromium or `chromium` on PATH).');
  }
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'attestry-chromium-'));
  let context: BrowserContext;
  try {
    // launchPersistentContext so the profile directory is ours to create fresh and delete.
    context = await chromium.launchPersistentContext(userDataDir, { executablePath, headless: true, args: FLAGS, timeout: 30_000 });
  } catch (e) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw e;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));

  let cdp: CDPSession | null = null;
  const session = async (): Promise<CDPSession> => {
    if (cdp === null) {
      cdp = await context.newCDPSession(page);
      await cdp.send('WebAuthn.enable', {});
    }
    return cdp;
  };

  const shotDir = path.join(ARTIFACTS, 'screenshots', slug(options.artifactsName ?? 'browser'));
  // Numbering restarts each run; older shots would be mistaken for this run's.
  rmSync(shotDir, { recursive: true, force: true });
  let shots = 0;
  let closed = false;

  return {
    page,
    consoleErrors,
    async addVirtualAuthenticator() {
      const s = await session();
      const { authenticatorId } = await s.send('WebAuthn.addVirtualAuthenticator', {
        options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
      });
      return authenticatorId;
    },
    async credentials(authenticatorId) {
      const s = await session();
      const { credentials } = await s.send('WebAuthn.getCredentials', { authenticatorId });
      return credentials;
    },
    async screenshot(name) {
      mkdirSync(shotDir, { recursive: true });
      shots += 1;
      const file = path.join(shotDir, `${String(shots).padStart(2, '0')}-${slug(name)}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await context.close();
      } finally {
        rmSync(userDataDir, { recursive: true, force: true });
      }
    },
  };
}
