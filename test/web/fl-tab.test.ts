/**
 * A browser tab as a federated-learning client, in Debian's chromium against a real control plane:
 * the training page enrolls the tab with a one-time token, joins the fleet over MQTT on a WebSocket
 * (/v1/mqtt), is counted online, and takes part in a real FL job — downloads and verifies the
 * round's model, trains it with fl/'s ClientTrainer on onnxruntime-web (data-parallel: the page's
 * session and a replica worker), uploads its signed update,
 * answers the evaluation round — and the job publishes the federated model with lineage. The
 * enrolled device is kept in IndexedDB (no readable secret): a new tab resumes it without a token,
 * and its second job's uploads verify against the upload key the control plane pinned in the first.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FL_PATHS,
  HTTP_PATHS,
  type DevicesResponse,
  type FlJob,
  type ModelsResponse,
} from '../../src/protocol/index.ts';
import { buildWebApp } from '../../src/web/build.ts';
import { TestCloud, waitUntil } from '../e2e/harness.ts';
import { seedCnnBytes } from '../edge/models.ts';
import { chromiumSkipReason, collectPageErrors, launchChromium, type LaunchedBrowser } from './chromium.ts';

const skip = chromiumSkipReason();
const SHOTS = join(process.cwd(), '.vitest', 'screenshots');
/** The tab's local data: this many Fashion-MNIST training images (its hold-out: the 500 test images). */
const TAB_SAMPLES = 640;

interface TabFl {
  state: string;
  detail?: string;
  deviceId?: string;
  outcomes: { job: string; round: number; task: string; result: string; reason?: string }[];
}

describe.skipIf(skip !== null)('a browser tab joins a federated job (chromium, real control plane)', () => {
  let dir: string;
  let cloud: TestCloud;
  let browser: LaunchedBrowser;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'verge-fl-tab-'));
    const web = await buildWebApp(join(dir, 'web'));
    cloud = await TestCloud.start({ webDir: web.outDir });
    await cloud.publish('seed-cnn', '1.0.0', seedCnnBytes());
    browser = await launchChromium();
    page = await browser.context.newPage();
    errors = collectPageErrors(page);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await cloud?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const tabFl = async () => (await page.evaluate('window.vergeFl')) as TabFl;

  it('refuses a bad enrollment token with a clear message', async () => {
    await page.goto(`${cloud.url}/train.html?fl_token=${'x'.repeat(32)}&fl_name=tab-bad`);
    await page.waitForFunction("window.vergeFl && window.vergeFl.state === 'error'", undefined, { timeout: 60_000 });
    expect(await page.locator('#fl-status').textContent()).toMatch(/^Could not join — enrollment refused: /);
    expect((await tabFl()).deviceId).toBeUndefined();
    // the browser logs the refused request itself; nothing else went wrong
    expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    errors.length = 0;
  }, 90_000);

  it('enrolls, is online, trains a round and evaluates; the job publishes the federated model', async () => {
    const token = await cloud.token({ kind: 'browser' });
    // the round trains data-parallel as the page does: the page's session and one replica worker
    const replicaWorkers: string[] = [];
    page.on('worker', (w) => {
      if (/replica-worker/.test(w.url())) replicaWorkers.push(w.url());
    });
    await page.goto(
      `${cloud.url}/train.html?fl_token=${token}&fl_name=tab-1&fl_samples=${TAB_SAMPLES}&threads=1&replicas=2`,
    );
    await page.waitForFunction("window.vergeFl && window.vergeFl.state === 'online'", undefined, { timeout: 60_000 });
    const deviceId = (await tabFl()).deviceId!;
    expect(deviceId).toMatch(/^dev-/);
    // the control plane sees the tab as an online device with its browser profile and tags
    await waitUntil(
      async () =>
        (await cloud.admin.get<DevicesResponse>(HTTP_PATHS.devices)).devices.some(
          (d) => d.id === deviceId && d.status === 'online',
        ),
      30_000,
      'the tab online',
    );
    const device = (await cloud.admin.get<DevicesResponse>(HTTP_PATHS.devices)).devices.find((d) => d.id === deviceId)!;
    expect(device).toMatchObject({ name: 'tab-1', tags: { kind: 'browser' } });
    expect(device.profile).toMatchObject({ platform: 'browser', class: 'browser' });

    const job = await cloud.admin.post<FlJob>(FL_PATHS.jobs, {
      model: { name: 'seed-cnn', version: '1.0.0' },
      target: { tags: { kind: 'browser' } },
      rounds: 1,
      strategy: 'fedavg',
      min_fit_clients: 1,
      round_timeout_s: 240, // the tab builds its training session and trains on a loaded 2-core box
      batch_size: 32,
      lr: 0.002,
      local_epochs: 1,
    });
    let done = job;
    await waitUntil(
      async () => ['completed', 'failed'].includes((done = await cloud.admin.get<FlJob>(FL_PATHS.job(job.id))).state),
      420_000,
      'the job to end',
    );
    expect(done.error, `${JSON.stringify((await tabFl()).outcomes)}\n${errors.join('\n')}`).toBeNull();
    expect(done.state).toBe('completed');
    // the job completes when the control plane has the evaluation; the tab records its outcome
    // when the upload's answer reaches it, which on a loaded machine can come a little later
    await waitUntil(
      async () => (await tabFl()).outcomes.some((o) => o.job === job.id && o.task === 'evaluate'),
      30_000,
      'the tab to record its evaluation',
    );
    const fl = await tabFl();
    // round 1: the tab's update accepted; round 2: its evaluation of the federated model
    expect(done.history[0]).toMatchObject({ round: 1, task: 'fit', state: 'closed', accepted: 1 });
    const seat = (await cloud.cp.repos.fl.participants(job.id, 1))[0]!;
    expect(seat).toMatchObject({ device_id: deviceId, state: 'accepted', examples: TAB_SAMPLES });
    expect(seat.metrics.eval_examples).toBe(500);
    expect(seat.metrics.train_seconds).toBeGreaterThan(0);
    expect(replicaWorkers).toHaveLength(1);
    expect(fl.outcomes.filter((o) => o.job === job.id).map((o) => [o.round, o.task, o.result])).toEqual([
      [1, 'fit', 'uploaded'],
      [2, 'evaluate', 'uploaded'],
    ]);
    // the federated model is a new version, trained (not the starting weights), with its lineage
    const model = (await cloud.admin.get<ModelsResponse>(HTTP_PATHS.model('seed-cnn'))).models[0]!;
    const v = model.versions.find((x) => x.version === '1.1.0')!;
    const start = model.versions.find((x) => x.version === '1.0.0')!;
    expect(v.parent).toBe('seed-cnn@1.0.0');
    expect(v.optimization).toContain(`job=${job.id}`);
    expect(v.variants[0]!.sha256).not.toBe(start.variants[0]!.sha256);
    expect(v.metrics.accuracy).toBeGreaterThan(0.1);
    expect(await page.locator('#fl-outcomes').textContent()).toContain(job.id);
    await page.locator('#fl-card').screenshot({ path: join(SHOTS, 'train-fl.png') });
    expect(errors, errors.join('\n')).toEqual([]);
  }, 600_000);

  it('a closed tab is the same device when reopened: kept in IndexedDB, no readable secret, its pinned upload key', async () => {
    const deviceId = (await tabFl()).deviceId!;
    expect(deviceId).toMatch(/^dev-/);
    await page.close(); // sessionStorage dies with the tab; what is kept must not
    page = await browser.context.newPage();
    errors = collectPageErrors(page);
    await page.goto(`${cloud.url}/train.html?fl_samples=${TAB_SAMPLES}&threads=1`); // no token
    await page.waitForFunction("window.vergeFl && window.vergeFl.state === 'online'", undefined, { timeout: 60_000 });
    expect(await tabFl()).toMatchObject({ deviceId, resumed: true });
    expect(await page.locator('#fl-status').textContent()).toContain(deviceId);
    const devices = (await cloud.admin.get<DevicesResponse>(HTTP_PATHS.devices)).devices;
    expect(devices.filter((d) => d.name === 'tab-1').map((d) => d.id)).toEqual([deviceId]);

    // what the browser keeps: the password sealed, both keys non-extractable CryptoKeys
    const kept = (await page.evaluate(`new Promise((resolve, reject) => {
      const open = indexedDB.open('verge-device');
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const get = open.result.transaction('devices').objectStore('devices').getAll();
        get.onsuccess = async () => {
          const r = get.result[0];
          const exported = await crypto.subtle.exportKey('pkcs8', r.uploadKey.privateKey).then(() => 'exported', (e) => e.name);
          const sealExport = await crypto.subtle.exportKey('raw', r.sealKey).then(() => 'exported', (e) => e.name);
          resolve({
            count: get.result.length,
            deviceId: r.identity.device_id,
            credentials: r.identity.credentials,
            sealKey: { type: r.sealKey.type, extractable: r.sealKey.extractable, algorithm: r.sealKey.algorithm.name },
            privateKey: { type: r.uploadKey.privateKey.type, extractable: r.uploadKey.privateKey.extractable, algorithm: r.uploadKey.privateKey.algorithm.name },
            exported, sealExport,
            sealedBytes: r.sealedPassword.data.byteLength,
          });
        };
      };
    })`)) as Record<string, unknown>;
    expect(kept).toMatchObject({
      count: 1,
      deviceId,
      credentials: { username: deviceId }, // no password field
      sealKey: { type: 'secret', extractable: false, algorithm: 'AES-GCM' },
      privateKey: { type: 'private', extractable: false, algorithm: 'Ed25519' },
      exported: 'InvalidAccessError',
      sealExport: 'InvalidAccessError',
    });
    expect(kept.sealedBytes).toBeGreaterThan(16); // ciphertext + GCM tag
    expect(JSON.stringify(kept)).not.toMatch(/password/);

    // a second job: the resumed tab's update verifies against the FL key pinned in the first job
    // (a new key would be refused: "already registered a different FL key")
    const job = await cloud.admin.post<FlJob>(FL_PATHS.jobs, {
      model: { name: 'seed-cnn', version: '1.1.0' },
      target: { tags: { kind: 'browser' } },
      rounds: 1,
      strategy: 'fedavg',
      min_fit_clients: 1,
      round_timeout_s: 240,
      batch_size: 32,
      lr: 0.002,
      local_epochs: 1,
    });
    let done = job;
    await waitUntil(
      async () => ['completed', 'failed'].includes((done = await cloud.admin.get<FlJob>(FL_PATHS.job(job.id))).state),
      420_000,
      'the second job to end',
    );
    const fl = await tabFl();
    expect(done.error, `${JSON.stringify(fl.outcomes)}\n${errors.join('\n')}`).toBeNull();
    expect(done.history[0]).toMatchObject({ round: 1, task: 'fit', state: 'closed', accepted: 1 });
    expect((await cloud.cp.repos.fl.participants(job.id, 1))[0]).toMatchObject({
      device_id: deviceId,
      state: 'accepted',
    });
    expect(errors, errors.join('\n')).toEqual([]);
  }, 600_000);

  it('a device revoked while its tab was closed: the reopened tab is refused, says so and forgets it', async () => {
    const deviceId = (await tabFl()).deviceId!;
    await page.close();
    await cloud.admin.post(HTTP_PATHS.revokeDevice(deviceId), {});
    page = await browser.context.newPage();
    errors = collectPageErrors(page);
    await page.goto(`${cloud.url}/train.html?threads=1`);
    await page.waitForFunction("window.vergeFl && window.vergeFl.state === 'revoked'", undefined, { timeout: 60_000 });
    expect(await page.locator('#fl-status').textContent()).toMatch(
      /revoked by the control plane\. — the control plane refused this device’s credentials; enroll again/,
    );
    const count = () =>
      page.evaluate(`new Promise((resolve) => {
        const open = indexedDB.open('verge-device');
        open.onsuccess = () => { const c = open.result.transaction('devices').objectStore('devices').count(); c.onsuccess = () => resolve(c.result); };
      })`);
    await waitUntil(async () => (await count()) === 0, 10_000, 'the kept device forgotten');
    await page.reload();
    await page.waitForFunction('window.vergeFl', undefined, { timeout: 30_000 });
    // nothing to resume and no token: the tab stays out of the fleet
    expect((await tabFl()).state).toBe('idle');
    expect(await page.locator('#fl-status').textContent()).toBe('Not joined.');
  }, 120_000);
});
