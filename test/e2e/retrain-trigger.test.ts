/**
 * Retraining triggered by drift (`verge retrain <model> --with-collected --when-drifted`) over the
 * real control plane with a real agent and Fashion-MNIST: calm traffic is not drifted (nothing
 * trained); shifted traffic drifts, but too few labelled items keep it waiting; once an operator
 * labelled them, it retrains, publishes 1.1.0 with lineage and rolls it out as a canary to the
 * drifted deployment's target with its edge-loop policy; right after, the cooldown holds.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset.ts';
import { loadDataset } from '../../src/data/load-dataset.ts';
import type { EdgeAgent } from '../../src/edge/agent.ts';
import { EDGE_LOOP_PATHS, HTTP_PATHS, type EdgeLoopPolicy, type ModelsResponse } from '../../src/protocol/index.ts';
import { ROOT, secretFile, verge } from '../cli/cli.ts';
import {
  cameraShift,
  deployDriftWatched,
  labelCollected,
  predictBatches,
  startAgent,
  TestCloud,
  waitUntil,
} from './harness.ts';

const SUBSET = join(ROOT, 'data', 'fashion-mnist-subset');

describe('retraining triggered by drift (embedded broker + SQLite)', () => {
  let cloud: TestCloud;
  let agent: EdgeAgent;
  let data: Dataset;
  let depId = '';
  let flags: string[];

  beforeAll(async () => {
    data = await loadDataset(SUBSET);
    cloud = await TestCloud.start();
    flags = ['--cloud', cloud.url, '--api-key-file', secretFile(cloud.cp.adminKey)];
    agent = await startAgent(cloud, 'cam-trigger', { uploadIntervalMs: 150 });
    depId = (await deployDriftWatched(cloud, agent, data.train)).id;
  }, 120_000);
  afterAll(async () => {
    await agent?.stop().catch(() => undefined);
    await cloud?.close();
  });

  /** `n` samples through the agent's HTTP API (50 per request), then the drift report. */
  const traffic = async (x: Float32Array, n: number) => {
    await predictBatches(agent, 'clf', x, n);
    expect(await agent.loop.reportDrift()).toBe(true);
  };
  const due = async (...extra: string[]) => {
    const r = await verge(['retrain', 'clf', '--with-collected', '--when-drifted', '--json', ...extra, ...flags]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as {
      from: string | null;
      triggered: boolean;
      reason?: string;
      published: { name: string; version: string } | null;
      drift?: { version: string; drifted: boolean; samples: number };
      deployment?: { id: string; devices: number };
    };
  };

  it('calm: not drifted; shifted: waits for labels, then retrains and rolls out a canary; then cooldown', async () => {
    await traffic(data.test.x, 100);
    const calm = await due();
    expect(calm).toMatchObject({ triggered: false, published: null });
    expect(calm.reason).toMatch(/^clf@1\.0\.0 is not drifted: score 0\.\d+ <= 0\.25 over 100 inputs$/);

    await traffic(cameraShift(data.test.x, 3), 300);
    await waitUntil(() => agent.loop.store.counts().pending === 0, 30_000, 'all items uploaded');
    const unlabelled = await due('--min-labelled', '200');
    expect(unlabelled.triggered).toBe(false);
    expect(unlabelled.reason).toMatch(/drifted \(score \d\.\d+\) but only 0 collected items are labelled, 200 needed/);
    expect(unlabelled.drift).toMatchObject({ version: '1.0.0', drifted: true, samples: 400 });

    // the operator labels what the device collected (in collection order: 100 calm, then 300 shifted)
    expect(agent.loop.store.all('clf')).toHaveLength(400);
    await labelCollected(cloud, agent, data.test.y, 100);

    const run = await due(
      '--min-labelled',
      '200',
      '--epochs',
      '1',
      '--force',
      '--threads',
      '1',
      '--rollout',
      'canary:50',
    );
    expect(run).toMatchObject({ from: 'clf@1.0.0', triggered: true, published: { name: 'clf', version: '1.1.0' } });
    expect(run.deployment).toMatchObject({ devices: 1 });
    const reg = await cloud.admin.get<ModelsResponse>(HTTP_PATHS.model('clf'));
    const v = reg.models[0]!.versions.find((x) => x.version === '1.1.0')!;
    expect(v.parent).toBe('clf@1.0.0');
    expect(v.optimization).toMatch(/^retrain:collected\(\d+\)$/);
    // the canary goes to the drifted deployment's devices, with its edge-loop policy
    const policy = await cloud.admin.get<EdgeLoopPolicy>(EDGE_LOOP_PATHS.policy(run.deployment!.id));
    expect(policy).toEqual(await cloud.admin.get<EdgeLoopPolicy>(EDGE_LOOP_PATHS.policy(depId)));
    await cloud.waitDeployment(run.deployment!.id, ['succeeded'], 120_000);
    await waitUntil(() => agent.served.get('clf')?.version === '1.1.0', 20_000, 'the agent serves 1.1.0');

    const again = await due('--min-labelled', '200');
    expect(again.triggered).toBe(false);
    expect(again.reason).toMatch(/^cooldown: clf@1\.1\.0 was retrained \d+ min ago \(cooldown 1440 min\)$/);
  }, 900_000);

  it('bad input: one line', async () => {
    for (const [args, pattern] of [
      [
        ['retrain', 'clf@1.0.0', '--with-collected', '--dry-run', '--rollout', 'canary:10'],
        /--dry-run publishes nothing/,
      ],
      [['retrain', 'clf', '--with-collected', '--when-drifted', '--rollout', 'all'], /--rollout must be canary:PCT/],
    ] as [string[], RegExp][]) {
      const r = await verge([...args, ...flags]);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    }
  }, 300_000);
});
