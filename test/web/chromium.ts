/**
 * The browser tests' use of Debian's chromium (src/web/chromium.ts launches it): absent → tests
 * skip with the reason; under CI=true they fail. Page errors are collected for assertions.
 */
import type { Page } from 'playwright-core';
import { chromiumMissing } from '../../src/web/chromium.ts';

export { CHROMIUM_PATH, launchChromium, type LaunchedBrowser } from '../../src/web/chromium.ts';

/** Skip reason when chromium is missing, or null. Under CI=true a missing chromium throws. */
export function chromiumSkipReason(): string | null {
  const reason = chromiumMissing();
  if (!reason) return null;
  if (process.env.CI === 'true') throw new Error(`required browser missing under CI: ${reason}`);
  console.warn(`[skip] ${reason}`);
  return reason;
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
