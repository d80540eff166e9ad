/**
 * Debian's chromium (/usr/bin/chromium, `apt-get install chromium`) driven by playwright-core for
 * the browser tests and bench/browser: no browser download, a fresh profile per launch, and no
 * background traffic. Absent → tests skip with the reason; under CI=true they fail.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Skip reason when chromium is missing, or null. Under CI=true a missing chromium throws. */
export function chromiumSkipReason(): string | null {
  if (existsSync(CHROMIUM_PATH)) return null;
  const reason = `chromium not installed at ${CHROMIUM_PATH} (apt-get install chromium)`;
  if (process.env.CI === 'true') throw new Error(`required browser missing under CI: ${reason}`);
  console.warn(`[skip] ${reason}`);
  return reason;
}

export interface LaunchedBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launch headless chromium with a fresh user-data dir (removed on close). */
export async function launchChromium(): Promise<LaunchedBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'verge-chromium-'));
  // playwright takes the profile folder here (it refuses a --user-data-dir flag)
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 860 },
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Page console errors and uncaught exceptions, collected for assertions and failure messages. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}
