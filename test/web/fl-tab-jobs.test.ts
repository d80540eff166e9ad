/**
 * A browser tab in federated jobs beyond plain FedAvg, in Debian's chromium against a real control
 * plane: (1) the cloud's signing key is rotated in the middle of a job — the rounds after it are
 * signed with the new key, which the tab learns from the cloud's key set along the old key's
 * endorsement (edge/'s AgentKeyTrust, the agent's own code) and keeps training; (2) a job with
 * secure aggregation and client-level differential privacy whose two participants are the tab and
 * an in-process edge agent: the tab's masked input counts in the sum the control plane recovers;
 * (3) the dashboard's federated-learning page shows both jobs (screenshot: .vitest/screenshots/).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/index.ts';
import type { EdgeAgent } from '../../src/edge/agent.ts';
import {
  FL_PATHS,
  HTTP_PATHS,
  type DevicesResponse,
  type FlJob,
  type KeyTrust,
  type SigningKeySet,
} from '../../src/protocol/index.ts';
import { buildWebApp } from '../../src/web/build.ts';
import { startAgent, TestCloud, waitUntil } from '../e2e/harness.ts';
import { seedCnnBytes } from '../edge/models.ts';
import { chromiumSkipReason, collectPageErrors, launchChromium, type LaunchedBrowser } from './chromium.ts';

const skip = chromiumSkipReason();
const ROOT = join(import.meta.dirname, '..', '..');
/** The tab's local data: this many Fashion-MNIST training images (its hold-out: the 500 test images). */
const TAB_SAMPLES = 320;
/** The tab builds its training session and trains on a loaded 2-core box. */
const ROUND_TIMEOUT_S = 240;
const SHOTS = join(process.cwd(), '.vitest', 'screenshots');

interface TabFl {
  state: string;
  deviceId?: string;
  outcomes: { job: string; round: number; task: string; result: string; reason?: string }[];
}

describe.skipIf(skip !== null)('a browser tab in federated jobs: key rotation, secure aggregation + DP', () => {
  let dir: string;
  let cloud: TestCloud;
  let browser: LaunchedBrowser;
  const agents: EdgeAgent[] = [];
  /** Jobs the cases above ran (the dashboard case shows them). */
  const jobs: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'verge-fl-tab-jobs-'));
    const web = await buildWebApp(join(dir, 'web'));
    cloud = await TestCloud.start({ webDir: web.outDir });
    await cloud.publish('seed-cnn', '1.0.0', seedCnnBytes());
    browser = await launchChromium();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    for (const a of agents) await a.stop();
    await cloud?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A new tab enrolled with tags {set}; resolves when the control plane counts it online. */
  async function joinTab(name: string, set: string): Promise<{ page: Page; deviceId: string; errors: string[] }> {
    const page = await browser.context.newPage();
    const errors = collectPageErrors(page);
    const token = await cloud.token({ set });
    await page.goto(`${cloud.url}/train.html?fl_token=${token}&fl_name=${name}&fl_samples=${TAB_SAMPLES}&threads=1`);
    await page.waitForFunction("window.vergeFl && window.vergeFl.state === 'online'", undefined, { timeout: 60_000 });
    const deviceId = ((await page.evaluate('window.vergeFl')) as TabFl).deviceId!;
    await waitUntil(
      async () =>
        (await cloud.admin.get<DevicesResponse>(HTTP_PATHS.devices)).devices.some(
          (d) => d.id === deviceId && d.status === 'online',
        ),
      30_000,
      `${name} online`,
    );
    return { page, deviceId, errors };
  }

  async function jobEnd(id: string): Promise<FlJob> {
    let job: FlJob | undefined;
    await waitUntil(
      async () => ['completed', 'failed'].includes((job = await cloud.admin.get<FlJob>(FL_PATHS.job(id))).state),
      600_000,
      `job ${id} to end`,
    );
    return job!;
  }

  const outcomesOf = async (page: Page, job: string) =>
    ((await page.evaluate('window.vergeFl')) as TabFl).outcomes.filter((o) => o.job === job);

  /**
   * The tab's outcomes once it has recorded the job's last round: the control plane may complete the
   * job on the tab's upload before the tab has read the upload's answer and recorded the outcome.
   */
  async function finalOutcomes(page: Page, job: FlJob): Promise<Awaited<ReturnType<typeof outcomesOf>>> {
    const last = job.history.at(-1);
    let outcomes = await outcomesOf(page, job.id);
    if (!last) return outcomes;
    await waitUntil(
      async () =>
        (outcomes = await outcomesOf(page, job.id)).some((o) => o.round === last.round && o.task === last.task),
      30_000,
      `the tab to record round ${last.round}`,
    ).catch(() => undefined); // the assertions below say what is missing
    return outcomes;
  }

  it('keeps training after `verge keys rotate` in the middle of a job: it learns the new key from the endorsement', async () => {
    const { page, errors } = await joinTab('tab-rot', 'rotation');
    jobs.push('rotation');
    const before = await cloud.admin.get<SigningKeySet>(HTTP_PATHS.signingKeys);
    const job = await cloud.admin.post<FlJob>(FL_PATHS.jobs, {
      model: { name: 'seed-cnn', version: '1.0.0' },
      target: { tags: { set: 'rotation' } },
      rounds: 2,
      strategy: 'fedavg',
      min_fit_clients: 1,
      round_timeout_s: ROUND_TIMEOUT_S,
      batch_size: 32,
      lr: 0.002,
      local_epochs: 1,
      publish: { name: 'seed-cnn', version: '1.1.0' },
    });
    // round 1 is open (its task signed with the enrollment key): rotate now, long before the tab
    // (downloading, building its session, training) can finish it — rounds 2 and 3 use the new key
    await waitUntil(
      async () => (await cloud.admin.get<FlJob>(FL_PATHS.job(job.id))).history.length > 0,
      30_000,
      'round 1 open',
    );
    const rotated = await cloud.admin.post<SigningKeySet>(HTTP_PATHS.rotateSigningKey, {});
    expect(rotated.active).not.toBe(before.active);

    const done = await jobEnd(job.id);
    const outcomes = await finalOutcomes(page, done);
    expect(done.error, `${JSON.stringify(outcomes)}\n${errors.join('\n')}`).toBeNull();
    expect(done.state).toBe('completed');
    // (a task the tab already answered may come again, re-signed after the rotation: 'skipped')
    expect(outcomes.filter((o) => o.result === 'failed')).toEqual([]);
    expect(outcomes.filter((o) => o.result !== 'skipped').map((o) => [o.round, o.task, o.result])).toEqual([
      [1, 'fit', 'uploaded'],
      [2, 'fit', 'uploaded'],
      [3, 'evaluate', 'uploaded'],
    ]);
    expect(done.history.map((r) => [r.round, r.task, r.accepted])).toEqual([
      [1, 'fit', 1],
      [2, 'fit', 1],
      [3, 'evaluate', 1],
    ]);
    // what the tab now trusts (kept with its device in IndexedDB): both keys, the new one learned
    const deviceId = ((await page.evaluate('window.vergeFl')) as TabFl).deviceId!;
    const trust = (await page.evaluate(`new Promise((resolve, reject) => {
      const open = indexedDB.open('verge-device');
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const get = open.result.transaction('devices').objectStore('devices').get('${deviceId}');
        get.onsuccess = () => resolve(get.result.keyTrust);
      };
    })`)) as KeyTrust;
    expect(Object.keys(trust.keys).sort()).toEqual([before.active, rotated.active].sort());
    expect(trust.seq).toBe(rotated.seq);
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  }, 900_000);

  it('takes part in a secure-aggregation job with differential privacy beside an edge agent', async () => {
    const { page, deviceId, errors } = await joinTab('tab-sa', 'secure');
    jobs.push('secure');
    const fashion = await loadDataset(join(ROOT, 'data', 'fashion-mnist-subset'), {
      limits: { train: TAB_SAMPLES, test: 200 },
    });
    const agent = await startAgent(cloud, 'agent-sa', { localData: async () => fashion });
    agents.push(agent);
    await waitUntil(
      async () =>
        (await cloud.admin.get<DevicesResponse>(HTTP_PATHS.devices)).devices.some(
          (d) => d.name === 'agent-sa' && d.status === 'online',
        ),
      30_000,
      'the agent online',
    );
    const job = await cloud.admin.post<FlJob>(FL_PATHS.jobs, {
      model: { name: 'seed-cnn', version: '1.0.0' },
      target: { devices: [deviceId, 'agent-sa'] },
      rounds: 1,
      strategy: 'fedavg',
      min_fit_clients: 2,
      round_timeout_s: ROUND_TIMEOUT_S,
      batch_size: 32,
      lr: 0.002,
      local_epochs: 1,
      secure_agg: true,
      dp: { clip: 5, noise_multiplier: 0.3 },
      publish: { name: 'seed-cnn', version: '1.2.0' },
    });
    const done = await jobEnd(job.id);
    const outcomes = await finalOutcomes(page, done);
    expect(done.error, `${JSON.stringify(outcomes)}\n${errors.join('\n')}`).toBeNull();
    expect(done.state).toBe('completed');
    expect(done.secure_agg).toBe(true);
    // both inputs are in the recovered sum, and the job accounts the privacy it spent
    expect(done.history[0]).toMatchObject({ round: 1, task: 'fit', state: 'closed', accepted: 2 });
    expect(done.privacy).toMatchObject({ clip: 5, noise_multiplier: 0.3 });
    expect(done.privacy!.epsilon).toBeGreaterThan(0);
    // the tab went through the secure phases and uploaded its masked input, and evaluated the result
    const tab = outcomes.map((o) => `${o.round}:${o.task}:${o.result}`);
    expect(tab).toContain('1:fit:uploaded');
    expect(tab).toContain('2:evaluate:uploaded');
    // the control plane never holds the tab's individual update
    const seats = await cloud.cp.repos.fl.participants(job.id, 1);
    const seat = seats.find((s) => s.device_id === deviceId)!;
    expect(seat.state).toBe('accepted');
    expect(seat.update_sha256 ?? null).toBeNull();
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  }, 900_000);

  it("the dashboard's federated-learning page lists the jobs, with the secure one's privacy and rounds", async () => {
    expect(jobs).toEqual(['rotation', 'secure']);
    const page = await browser.context.newPage();
    const errors = collectPageErrors(page);
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(cloud.url);
    await page.fill('input[name=key]', cloud.cp.adminKey);
    await page.click('button[type=submit]');
    await page.locator('#devices').waitFor({ timeout: 30_000 });
    await page.goto(`${cloud.url}/#/fl`);
    await expect.poll(() => page.locator('#fl-jobs tr[data-job]').count(), { timeout: 30_000 }).toBe(2);
    const secure = page.locator('#fl-jobs tr[data-job]', { hasText: 'secure aggregation' });
    expect(await secure.textContent()).toMatch(/ε \d/);
    await secure.click();
    await expect.poll(() => page.locator('#fl-rounds tr').count(), { timeout: 30_000 }).toBeGreaterThan(1);
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'dashboard-fl.png'), fullPage: true });
    expect(errors, errors.join('\n')).toEqual([]);
    await page.close();
  }, 120_000);
});
