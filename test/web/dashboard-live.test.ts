/**
 * The dashboard in Debian's chromium against a real control plane and a simulated device over real
 * MQTT: it goes live on the event stream and shows a change before its next poll could have; a
 * hostile device's strings (a device name planted in the database, profile fields and result labels
 * it reports itself, tags of its token) are shown as text, never run as markup; and a key revoked
 * while its page is open sends that page back to sign-in with a clear message.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  emptyHistogram,
  HTTP_PATHS,
  observeLatency,
  type ApiKeyResponse,
  type EnrollTokenResponse,
} from '../../src/protocol/index.ts';
import { buildWebApp } from '../../src/web/build.ts';
import { SimDevice, PROFILE_X64 } from '../cloud/sim-device.ts';
import { TestCloud } from '../e2e/harness.ts';
import { seedCnnBytes } from '../edge/models.ts';
import { chromiumSkipReason, collectPageErrors, launchChromium, type LaunchedBrowser } from './chromium.ts';

const skip = chromiumSkipReason();
const SHOTS = join(process.cwd(), '.vitest', 'screenshots');
const UI_MS = 60_000;
/** Each payload, if it ever ran, would bump window.__xss. */
const XSS = {
  name: '<img src=x onerror="window.__xss=(window.__xss||0)+1">',
  cpu: '<script>window.__xss=(window.__xss||0)+1</script>',
  klass: '<svg onload="window.__xss=(window.__xss||0)+1">',
  label: '<img src=y onerror="window.__xss=(window.__xss||0)+1">',
  tag: '<iframe srcdoc="<script>parent.__xss=1</script>">',
};

describe.skipIf(skip !== null)('dashboard: live updates and hostile device strings (chromium)', () => {
  let dir: string;
  let cloud: TestCloud;
  let device: SimDevice;
  let browser: LaunchedBrowser;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'verge-dash-live-'));
    const web = await buildWebApp(join(dir, 'web'));
    cloud = await TestCloud.start({ webDir: web.outDir });
    const token = await cloud.admin.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, { tags: { site: XSS.tag } });
    device = await SimDevice.create(cloud.url, token.token, 'hostile-1', {
      ...PROFILE_X64,
      class: XSS.klass,
      cpu: { model: XSS.cpu, cores: 2 },
    });
    await device.connect();
    await device.heartbeat();
    // enrollment refuses such a name (EnrollRequest); plant it where it would come from a bad record
    await cloud.cp.repos.db.run('UPDATE devices SET name = ? WHERE id = ?', [XSS.name, device.id]);
    const h = emptyHistogram();
    for (let i = 0; i < 6; i++) observeLatency(h, 4);
    await device.publish('telemetry', {
      device_id: device.id,
      window_start: Date.now() - 1000,
      window_end: Date.now(),
      model: { name: 'seed-cnn', version: '1.0.0', variant: 'fp32' },
      deployment_id: null,
      inferences: 6,
      errors: 0,
      latency_ms: h,
      results: { [XSS.label]: 4, bag: 2 },
    });
    await cloud.cp.flush();
    browser = await launchChromium();
    page = await browser.context.newPage();
    errors = collectPageErrors(page);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await device?.close();
    await cloud?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('goes live and shows a change before its next poll', async () => {
    await page.goto(cloud.url);
    await page.fill('input[name=key]', cloud.cp.adminKey);
    await page.click('button[type=submit]');
    await page.locator('#devices').waitFor({ timeout: UI_MS });
    await expect.poll(() => page.locator('#live').textContent(), { timeout: UI_MS }).toContain('live');
    await page.click('nav >> text=Models');
    // right after a re-read the next poll is LIVE_POLL_MS (15 s) away: what shows sooner came by event
    await page.waitForResponse((r) => r.url().endsWith(HTTP_PATHS.models), { timeout: UI_MS });
    const t0 = Date.now();
    await cloud.publish('pushed-model', '1.0.0', seedCnnBytes());
    await page.locator('[data-model=pushed-model]').waitFor({ timeout: 12_000 });
    expect(Date.now() - t0).toBeLessThan(12_000);
  }, 120_000);

  it('shows a hostile device’s strings as text and runs none of them', async () => {
    await page.click('nav >> text=Fleet');
    const row = page.locator('#devices tr[data-device]').first();
    await expect.poll(() => row.textContent(), { timeout: UI_MS }).toContain(XSS.name);
    expect(await row.textContent()).toContain(XSS.tag);
    await row.locator('a').click();
    await page.locator('#device-page').waitFor({ timeout: UI_MS });
    await expect.poll(() => page.locator('#device-profile').textContent(), { timeout: UI_MS }).toContain(XSS.cpu);
    expect(await page.locator('#device-profile').textContent()).toContain(XSS.klass);
    await expect
      .poll(() => page.locator('#device-telemetry').textContent(), { timeout: UI_MS })
      .toContain(`${XSS.label}: 4`);
    await page.locator('#device-mix-chart .u-legend').waitFor({ timeout: UI_MS });
    expect(await page.locator('#device-mix-chart .u-legend').textContent()).toContain(XSS.label);
    await page.screenshot({ path: join(SHOTS, 'hostile-device.png'), fullPage: true });
    expect(await page.evaluate('window.__xss')).toBeUndefined();
    expect(await page.locator('img[src=x], img[src=y], iframe, svg[onload], #app script').count()).toBe(0);
    expect(errors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  }, 120_000);
  it('sends a page whose key was revoked back to sign-in, saying so (no blank page)', async () => {
    const ro = await cloud.admin.post<ApiKeyResponse>(HTTP_PATHS.apiKeys, { role: 'read-only', name: 'revoked-soon' });
    const other = await browser.context.newPage();
    const otherErrors = collectPageErrors(other);
    await other.goto(cloud.url);
    await other.evaluate('sessionStorage.clear()');
    await other.reload();
    await other.fill('input[name=key]', ro.key);
    await other.click('button[type=submit]');
    await other.locator('#devices').waitFor({ timeout: UI_MS });
    await cloud.admin.request('DELETE', HTTP_PATHS.apiKey(ro.id));
    await expect
      .poll(() => other.locator('#login-error').textContent(), { timeout: UI_MS })
      .toContain('Your API key is no longer accepted; sign in again.');
    expect(await other.locator('#devices').count()).toBe(0);
    expect(await other.locator('input[name=key]').count()).toBe(1);
    await other.screenshot({ path: join(SHOTS, 'dashboard-key-revoked.png'), fullPage: true });
    // the browser logs the refused requests as failed loads; nothing else went wrong
    expect(otherErrors.filter((e) => !/Failed to load resource|status of 401/.test(e))).toEqual([]);
    await other.close();
  }, 120_000);
});
