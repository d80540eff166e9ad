/**
 * Debian's chromium (/usr/bin/chromium, `apt-get install chromium`) driven by playwright-core:
 * for `verge demo browser --headless`, bench/browser and the browser tests. No browser download,
 * a fresh profile per launch, no background traffic. Node-only; playwright-core is a development
 * dependency, loaded only when a browser is launched.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { VergeError } from '../errors.ts';

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

export interface LaunchedBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Why chromium cannot be launched here, or null. */
export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM_PATH) ? null : `chromium not installed at ${CHROMIUM_PATH} (apt-get install chromium)`;
}

/**
 * Launch headless chromium with a fresh user-data dir (removed on close); `args`: more command-line
 * flags (bench/browser-configs's experiments, e.g. `--js-flags=…`).
 */
export async function launchChromium(opts: { args?: readonly string[] } = {}): Promise<LaunchedBrowser> {
  const missing = chromiumMissing();
  if (missing) throw new VergeError('E_UNSUPPORTED', missing);
  let chromium: typeof import('playwright-core').chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch {
    throw new VergeError('E_UNSUPPORTED', 'driving chromium needs playwright-core (a development dependency: npm ci)');
  }
  const profile = mkdtempSync(join(tmpdir(), 'verge-chromium-'));
  // playwright takes the profile folder here (it refuses a --user-data-dir flag)
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...FLAGS, ...(opts.args ?? [])],
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
