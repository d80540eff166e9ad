/**
 * The fleet dashboard in Debian's chromium against a real control plane with three real agents:
 * sign in (a wrong key first), watch the devices appear, deploy a missing version (refused with
 * the server's message), deploy, run a canary and promote it, roll another back, open a device
 * page with its telemetry charts, sign in read-only (no write buttons), mint an enrollment token
 * whose command enrolls a device, see the federated page, and lose the control plane (a clear
 * banner, the last data kept). Screenshots of each page go to .vitest/screenshots/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EdgeAgent } from '../../src/edge/agent.ts';
import { HTTP_PATHS, type ApiKeyResponse } from '../../src/protocol/index.ts';
import { buildWebApp } from '../../src/web/build.ts';
import { predict, startAgent, TestCloud } from '../e2e/harness.ts';
import { enroll } from '../cloud/sim-device.ts';
import { seedCnnBytes } from '../edge/models.ts';
import { chromiumSkipReason, collectPageErrors, launchChromium, type LaunchedBrowser } from './chromium.ts';

const skip = chromiumSkipReason();
const SHOTS = join(process.cwd(), '.vitest', 'screenshots');
/** UI waits: generous, the tests run on loaded 2-core machines. */
const UI_MS = 60_000;

describe.skipIf(skip !== null)('fleet dashboard (chromium, real control plane and agents)', () => {
  let dir: string;
  let cloud: TestCloud;
  let agents: EdgeAgent[] = [];
  let browser: LaunchedBrowser;
  let page: Page;
  let errors: string[];

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const deploymentRow = (model: string) => page.locator(`#deployments tr[data-deployment]`, { hasText: model }).first();

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'verge-dash-'));
    const web = await buildWebApp(join(dir, 'web'));
    cloud = await TestCloud.start({ webDir: web.outDir });
    const model = seedCnnBytes();
    await cloud.publish('seed-cnn', '1.0.0', model);
    await cloud.publish('seed-cnn', '1.1.0', model);
    for (const name of ['cam-1', 'cam-2', 'cam-3']) agents.push(await startAgent(cloud, name));
    browser = await launchChromium();
    page = await browser.context.newPage();
    errors = collectPageErrors(page);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    for (const a of agents) await a.stop().catch(() => undefined);
    agents = [];
    await cloud?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a wrong API key with a clear message, then signs in and shows the three devices', async () => {
    await page.goto(cloud.url);
    await page.fill('input[name=key]', 'not-a-key');
    await page.click('button[type=submit]');
    await expect.poll(() => page.locator('#login-error').textContent(), { timeout: UI_MS }).toContain('Wrong API key');
    await shot('login-wrong-key');
    await page.fill('input[name=key]', cloud.cp.adminKey);
    await page.click('button[type=submit]');
    await page.locator('#devices').waitFor({ timeout: UI_MS });
    await expect.poll(() => page.locator('#devices tr[data-device] .pill.online').count(), { timeout: UI_MS }).toBe(3);
    expect(await page.locator('#role').textContent()).toContain('admin');
    await expect.poll(() => page.locator('#live').textContent(), { timeout: UI_MS }).toContain('live');
    await page.fill('#device-search', 'cam-2');
    await expect.poll(() => page.locator('#devices tr[data-device]').count(), { timeout: UI_MS }).toBe(1);
    await page.fill('#device-search', '');
    await shot('fleet');
  }, 120_000);

  it('refuses a deployment of a missing version with the server’s message', async () => {
    await page.click('nav >> text=Deployments');
    await page.locator('#deploy-form').waitFor({ timeout: UI_MS });
    await page.fill('#deploy-form input[name=version]', '9.9.9');
    await page.selectOption('#deploy-form select[name=strategy]', 'all');
    await page.click('#deploy-form button[type=submit]');
    await expect
      .poll(() => page.locator('#action-result').textContent(), { timeout: UI_MS })
      .toMatch(/Deployment not started: .*9\.9\.9.*\(E_NOT_FOUND\)/);
    await shot('deploy-missing-version');
  }, 120_000);

  it('deploys, runs a canary, promotes it from the UI, and rolls another back', async () => {
    await page.fill('#deploy-form input[name=version]', '1.0.0');
    await page.selectOption('#deploy-form select[name=strategy]', 'all');
    await page.click('#deploy-form button[type=submit]');
    await expect.poll(() => deploymentRow('@1.0.0').getAttribute('data-state'), { timeout: UI_MS }).toBe('succeeded');

    await page.fill('#deploy-form input[name=version]', '1.1.0');
    await page.selectOption('#deploy-form select[name=strategy]', '34');
    await page.click('#deploy-form button[type=submit]');
    const canary = deploymentRow('@1.1.0');
    await expect.poll(() => canary.textContent(), { timeout: UI_MS }).toContain('passed');
    expect(await canary.getAttribute('data-state')).toBe('canary');
    await shot('deployments-canary');
    await canary.locator('button[data-action=promote]').click();
    await expect.poll(() => canary.getAttribute('data-state'), { timeout: UI_MS }).toBe('succeeded');
    await expect.poll(() => canary.textContent(), { timeout: UI_MS }).toContain('3 / 3');

    await page.fill('#deploy-form input[name=version]', '1.0.0');
    await page.selectOption('#deploy-form select[name=strategy]', '34');
    await page.click('#deploy-form button[type=submit]');
    const back = page.locator('#deployments tr[data-deployment][data-state=canary]').first();
    await back.locator('button[data-action=rollback]').click();
    await expect
      .poll(() => page.locator('#deployments tr[data-deployment][data-state=rolled_back]').count(), { timeout: UI_MS })
      .toBe(1);
    await shot('deployments');
  }, 180_000);

  it('shows the model registry and a device page with telemetry', async () => {
    for (const a of agents) for (let i = 0; i < 5; i++) expect((await predict(a, 'seed-cnn')).status).toBe(200);
    await page.click('nav >> text=Models');
    await expect.poll(() => page.locator('[data-model=seed-cnn] tr').count(), { timeout: UI_MS }).toBe(3);
    await shot('models');
    await page.click('nav >> text=Fleet');
    await page.click('#devices tr[data-device=cam-1] a');
    await page.locator('#device-page').waitFor({ timeout: UI_MS });
    const rows = await expect
      .poll(() => page.locator('#device-telemetry tr').count(), { timeout: UI_MS })
      .toBeGreaterThanOrEqual(2)
      .catch(async (e: Error) => {
        const api = await cloud.admin.get(`${HTTP_PATHS.telemetry}?since=0`);
        const devices = await cloud.admin.get(HTTP_PATHS.devices);
        throw new Error(
          `${e.message}; telemetry: ${JSON.stringify(api)}; devices: ${JSON.stringify(devices).slice(0, 1500)}`,
        );
      });
    void rows;
    expect(await page.locator('#device-telemetry').textContent()).toContain('seed-cnn@');
    // the device's own series: the charts have drawn their points
    for (const chart of ['#device-chart', '#device-load-chart', '#device-mix-chart'])
      await page.locator(`${chart} canvas`).waitFor({ timeout: UI_MS });
    await shot('device');
  }, 120_000);

  it('hides write actions from a read-only key', async () => {
    const ro = await cloud.admin.post<ApiKeyResponse>(HTTP_PATHS.apiKeys, { role: 'read-only', name: 'viewer' });
    const other = await browser.context.newPage();
    await other.goto(cloud.url);
    await other.evaluate('sessionStorage.clear()');
    await other.reload();
    await other.fill('input[name=key]', ro.key);
    await other.click('button[type=submit]');
    await other.locator('#devices').waitFor({ timeout: UI_MS });
    await other.click('nav >> text=Deployments');
    await other.locator('#read-only-note').waitFor({ timeout: UI_MS });
    expect(await other.locator('[data-action]').count()).toBe(0);
    expect(await other.locator('#deploy-form').count()).toBe(0);
    await other.close();
  }, 120_000);

  it('mints an enrollment token whose command enrolls a device, and shows the federated page', async () => {
    await page.click('nav >> text=Enroll');
    await page.fill('#enroll-form input[name=tags]', 'site lab');
    await page.click('#enroll-form button[type=submit]');
    await expect
      .poll(() => page.locator('#action-result').textContent(), { timeout: UI_MS })
      .toContain('not key=value');
    await page.fill('#enroll-form input[name=tags]', 'site=lab');
    await page.click('#enroll-form button[type=submit]');
    await expect
      .poll(() => page.locator('#enroll-tokens').textContent(), { timeout: UI_MS })
      .toContain('--enroll-token');
    await shot('enroll');
    const command = (await page.locator('#enroll-tokens code').first().textContent())!;
    const token = /--enroll-token (\S+)/.exec(command)![1]!;
    expect(command).toContain(`--cloud ${cloud.url}`);
    const enrolled = await enroll(cloud.url, token, 'from-the-ui');
    expect(enrolled.status).toBe(200);
    expect(enrolled.body.tags).toEqual({ site: 'lab' });
    await page.click('nav >> text=Fleet');
    await expect.poll(() => page.locator('#devices tr[data-device]').count(), { timeout: UI_MS }).toBe(4);

    await page.click('nav >> text=Federated');
    await page.locator('#fl-empty').waitFor({ timeout: UI_MS });
    expect(await page.locator('#fl-empty').textContent()).toContain('verge fl start');
  }, 120_000);

  it('says so when the control plane goes away, keeping the last data', async () => {
    await page.click('nav >> text=Fleet');
    await cloud.down();
    await page.locator('#connection-lost').waitFor({ timeout: UI_MS });
    expect(await page.locator('#connection-lost').textContent()).toContain('Lost contact with the control plane');
    expect(await page.locator('#devices tr[data-device]').count()).toBe(4);
    expect(await page.locator('#live').textContent()).toContain('polling');
    await shot('cloud-gone');
    // the browser logs each refused poll as a failed resource load; nothing else went wrong
    expect(errors.filter((e) => !/Failed to load resource|ERR_CONNECTION_REFUSED|status of 40[14]/.test(e))).toEqual(
      [],
    );
  }, 120_000);
});
