/**
 * Drift monitoring on known data: PSI of Fashion-MNIST against itself stays below the threshold,
 * a camera change (contrast loss, brightness offset, noise) crosses it; over the real control
 * plane, an agent's summaries of unshifted then shifted requests score accordingly against the
 * reference stored for the model version.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Split } from '../../src/data/dataset.ts';
import { loadDataset } from '../../src/data/load-dataset.ts';
import { EdgeAgent } from '../../src/edge/agent.ts';
import {
  DRIFT_PSI_THRESHOLD,
  EDGE_LOOP_PATHS,
  addToDriftSummary,
  emptyDriftSummary,
  psi,
  type DriftOverview,
  type DriftScore,
} from '../../src/protocol/index.ts';
import { ROOT, secretFile, verge } from '../cli/cli.ts';
import { fixturePath } from '../fixtures/index.ts';
import { agentOptions, cameraShift, deployWithLoopPolicy, predictBatches, startAgent, TestCloud } from './harness.ts';

const SUBSET = join(ROOT, 'data', 'fashion-mnist-subset');

function summary(s: Split, from: number, to: number, x = s.x) {
  const out = emptyDriftSummary();
  addToDriftSummary(out, x.subarray(from * 784, to * 784), to - from, s.y.subarray(from, to));
  return out;
}

describe('drift score', () => {
  it('PSI on known unshifted and shifted data', async () => {
    const ds = await loadDataset(SUBSET);
    const ref = summary(ds.train, 0, ds.train.count);
    const same = summary(ds.test, 0, ds.test.count);
    const moved = summary(ds.test, 0, ds.test.count, cameraShift(ds.test.x, 1));
    expect(psi(ref.features.mean, same.features.mean)!).toBeLessThan(0.1);
    expect(psi(ref.features.std, same.features.std)!).toBeLessThan(0.1);
    expect(psi(ref.class_counts, same.class_counts)!).toBeLessThan(0.1);
    expect(
      Math.max(psi(ref.features.mean, moved.features.mean)!, psi(ref.features.std, moved.features.std)!),
    ).toBeGreaterThan(DRIFT_PSI_THRESHOLD);
    expect(psi([1, 0], [0, 0])).toBeNull();
    expect(psi([5, 5], [5, 5])).toBe(0);
  });
});

describe('drift over the control plane (embedded broker + SQLite)', () => {
  let cloud: TestCloud;
  let agent: EdgeAgent;
  beforeAll(async () => {
    cloud = await TestCloud.start();
    agent = await startAgent(cloud, 'cam-drift', { uploadIntervalMs: 200 });
    await deployWithLoopPolicy(cloud, agent, 'clf', readFileSync(fixturePath('seed_cnn_fmnist')), {
      collect: { upload: false },
    });
  }, 60_000);
  afterAll(async () => {
    await agent?.stop().catch(() => undefined);
    await cloud?.close();
  });

  const predictAll = (x: Float32Array, n: number) => predictBatches(agent, 'clf', x, n);

  it("scores an agent's unshifted then shifted traffic against the stored reference", async () => {
    const ds = await loadDataset(SUBSET);
    const send = async (x: Float32Array, n: number) => {
      await predictAll(x, n);
      expect(await agent.loop.reportDrift()).toBe(true);
    };
    const score = (since: number) => cloud.admin.get<DriftScore>(`${EDGE_LOOP_PATHS.drift}?model=clf&since=${since}`);
    const t0 = Date.now();
    await send(ds.test.x, 300);
    await expect(score(t0)).rejects.toThrow(/no drift reference for clf@1.0.0/);
    const ref = emptyDriftSummary();
    addToDriftSummary(ref, ds.train.x, ds.train.count, ds.train.y);
    await cloud.admin.request('PUT', EDGE_LOOP_PATHS.reference('clf@1.0.0'), ref);
    const calm = await score(t0);
    expect(calm).toMatchObject({ version: '1.0.0', samples: 300, devices: 1, drifted: false });
    expect(calm.score!).toBeLessThan(DRIFT_PSI_THRESHOLD);

    await new Promise((r) => setTimeout(r, 5));
    const t1 = Date.now();
    await send(cameraShift(ds.test.x, 1), 300);
    const moved = await score(t1);
    expect(moved.samples).toBe(300);
    expect(moved.drifted).toBe(true);
    expect(moved.score!).toBeGreaterThan(DRIFT_PSI_THRESHOLD);
    expect(moved.by_device).toEqual([{ device_id: agent.deviceId, samples: 300, score: moved.score, drifted: true }]);

    // the same score in the fleet overview, on the control plane's /metrics and in `verge status`
    const overview = await cloud.admin.get<DriftOverview>(`${EDGE_LOOP_PATHS.driftModels}?since=${t1}`);
    expect(overview.models.map((m) => [m.model, m.score, m.drifted])).toEqual([['clf', moved.score, true]]);
    expect(overview.unscored).toEqual([]);
    const hour = await cloud.admin.get<DriftOverview>(EDGE_LOOP_PATHS.driftModels); // calm + shifted, last hour
    const m = hour.models[0]!;
    expect(m.samples).toBe(600);
    const metrics = await (await fetch(`${cloud.url}/metrics`)).text();
    const gauge = (feature: string) =>
      Number(
        new RegExp(`^verge_drift_psi\\{model="clf",version="1\\.0\\.0",feature="${feature}"\\} (\\S+)$`, 'm').exec(
          metrics,
        )?.[1],
      );
    expect(gauge('score')).toBeCloseTo(m.score!, 9);
    expect(gauge('mean')).toBeCloseTo(m.psi.mean!, 9);
    expect(metrics).toMatch(/^verge_drift_samples\{model="clf",version="1\.0\.0"\} 600$/m);
    expect(metrics).toMatch(
      new RegExp(
        `^verge_drift_devices_drifted\\{model="clf",version="1\\.0\\.0"\\} ${m.by_device![0]!.drifted ? 1 : 0}$`,
        'm',
      ),
    );
    const cli = ['--cloud', cloud.url, '--api-key-file', secretFile(cloud.cp.adminKey)];
    const human = await verge(['status', ...cli]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`clf@1.0.0: ${m.score!.toFixed(3)}${m.drifted ? ' DRIFTED' : ''} (mean`);
    expect(human.stdout).toMatch(/over 600 inputs from 1 device\(s\)/);

    await expect(
      cloud.admin.request('PUT', EDGE_LOOP_PATHS.reference('clf@1.0.0'), { samples: 1, features: { mean: [1] } }),
    ).rejects.toThrow(/E_BAD_ARGUMENT|must/);
  }, 120_000);

  it('summaries taken while the cloud is down survive an agent restart and are delivered once', async () => {
    const ds = await loadDataset(SUBSET);
    const x = cameraShift(ds.test.x, 7);
    await new Promise((r) => setTimeout(r, 5));
    const t2 = Date.now();
    await cloud.down();
    await predictAll(x, 200);
    expect(await agent.loop.reportDrift()).toBe(false); // the tick: folded into agent.db, not delivered
    expect(agent.loop.driftStore.counts()).toEqual({ windows: 1, samples: 200 });
    await predictAll(x.subarray(200 * 784), 100); // in memory only until the agent stops

    const dataDir = agent.store.dataDir;
    await agent.stop();
    agent = await EdgeAgent.start(agentOptions(dataDir, { uploadIntervalMs: 60_000 }));
    expect(agent.loop.driftStore.counts()).toEqual({ windows: 1, samples: 300 });
    await predictAll(x.subarray(300 * 784), 50); // the restarted agent adds to the same window

    await cloud.up();
    expect(await agent.loop.reportDrift()).toBe(true);
    expect(agent.loop.driftStore.counts()).toEqual({ windows: 0, samples: 0 });
    expect(await agent.loop.reportDrift()).toBe(true); // nothing left: nothing sent twice
    const after = await cloud.admin.get<DriftScore>(`${EDGE_LOOP_PATHS.drift}?model=clf&since=${t2}`);
    expect(after).toMatchObject({ version: '1.0.0', samples: 350, devices: 1, drifted: true });
  }, 120_000);
});
