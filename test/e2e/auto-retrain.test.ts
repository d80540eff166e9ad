/**
 * The control plane retrains on drift by itself (`verge cloud --auto-retrain`,
 * src/cloud/retrain-scheduler.ts), over a real Mosquitto broker (its own process) and PostgreSQL,
 * with a real agent and Fashion-MNIST: calm traffic is not drifted (no run); shifted traffic
 * drifts, but too few labelled items keep it waiting; once an operator labelled them, the
 * scheduler — nobody calls retrain — publishes 1.1.0 with lineage and rolls it out as a canary
 * with the deployment's edge-loop policy, the agent serves it, and the cooldown holds after.
 * Everything it decided and ran is in GET /v1/edge-loop/retrain. Off by default: a control plane
 * started without the option never trains, whatever the drift.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset.ts';
import { loadDataset } from '../../src/data/load-dataset.ts';
import type { EdgeAgent } from '../../src/edge/agent.ts';
import {
  EDGE_LOOP_PATHS,
  HTTP_PATHS,
  type EdgeLoopPolicy,
  type ModelsResponse,
  type RetrainSchedulerStatus,
} from '../../src/protocol/index.ts';
import { ROOT } from '../cli/cli.ts';
import { dropSchema, PG_URL, postgresAvailable, uniqueSchema } from '../cloud/services.ts';
import { mosquittoSkipReason, startMosquitto, type TestBroker } from '../edge/brokers.ts';
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
const pgSkip = await postgresAvailable();
if (pgSkip && process.env.CI === 'true') throw new Error(`required service missing under CI: ${pgSkip}`);
const skip = mosquittoSkipReason() ?? pgSkip ?? null;

describe.skipIf(skip !== null)(
  `the control plane retrains on drift by itself (Mosquitto + PostgreSQL)${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let cloud: TestCloud;
    let broker: TestBroker;
    let schema: string;
    let agent: EdgeAgent;
    let data: Dataset;
    let depId = '';

    beforeAll(async () => {
      data = await loadDataset(SUBSET);
      broker = await startMosquitto();
      schema = uniqueSchema();
      cloud = await TestCloud.start({
        broker: broker.url,
        db: PG_URL,
        pgSchema: schema,
        // checked every 300 ms; the run as in retrain-trigger.test.ts (1 epoch, 200 labelled items)
        autoRetrain: { intervalMs: 300, minLabelled: 200, epochs: 1, canaryPercent: 50 },
      });
      agent = await startAgent(cloud, 'cam-auto', { uploadIntervalMs: 150 });
      depId = (await deployDriftWatched(cloud, agent, data.train)).id;
    }, 120_000);
    afterAll(async () => {
      await agent?.stop().catch(() => undefined);
      await cloud?.close();
      await broker?.close();
      if (schema) await dropSchema(schema).catch(() => undefined);
    });

    const status = () => cloud.admin.get<RetrainSchedulerStatus>(EDGE_LOOP_PATHS.retrain);
    /** The scheduler's decision about clf after a check that began once `after` had passed. */
    const decisionAfter = async (after: number) => {
      let d: RetrainSchedulerStatus['decisions'][number] | undefined;
      await waitUntil(
        async () => !!(d = (await status()).decisions.find((x) => x.model === 'clf' && x.at > after)),
        30_000,
        'a policy decision about clf',
      );
      return d!;
    };
    const traffic = async (x: Float32Array, n: number) => {
      await predictBatches(agent, 'clf', x, n);
      expect(await agent.loop.reportDrift()).toBe(true);
    };

    it('calm: no run; shifted: waits for labels, then retrains and rolls out a canary by itself; then cooldown', async () => {
      const s0 = await status();
      expect(s0).toMatchObject({ enabled: true, running: null, runs: [] });
      expect(s0.policy).toMatchObject({ drift_threshold: 0.25, min_labelled: 200, canary_percent: 50, epochs: 1 });

      await traffic(data.test.x, 100);
      const calm = await decisionAfter(Date.now());
      expect(calm).toMatchObject({ due: false, version: '1.0.0' });
      expect(calm.reason).toMatch(/^clf@1\.0\.0 is not drifted: score 0\.\d+ <= 0\.25 over 100 inputs$/);

      await traffic(cameraShift(data.test.x, 3), 300);
      await waitUntil(() => agent.loop.store.counts().pending === 0, 30_000, 'all items uploaded');
      const waiting = await decisionAfter(Date.now());
      expect(waiting.due).toBe(false);
      expect(waiting.reason).toMatch(/drifted \(score \d\.\d+\) but only 0 collected items are labelled, 200 needed/);
      expect((await status()).runs).toEqual([]);

      // the operator labels what the device collected (100 calm, then 300 shifted); nothing else
      expect(agent.loop.store.all('clf')).toHaveLength(400);
      await labelCollected(cloud, agent, data.test.y, 100);

      let run: RetrainSchedulerStatus['runs'][number] | undefined;
      await waitUntil(async () => !!(run = (await status()).runs[0]), 600_000, 'the scheduler to finish a run');
      expect(run, JSON.stringify(run)).toMatchObject({ model: 'clf', from: 'clf@1.0.0', error: null });
      expect(run!.published).toBe('clf@1.1.0');
      const reg = await cloud.admin.get<ModelsResponse>(HTTP_PATHS.model('clf'));
      const v = reg.models[0]!.versions.find((x) => x.version === '1.1.0')!;
      expect(v.parent).toBe('clf@1.0.0');
      expect(v.optimization).toMatch(/^retrain:collected\(\d+\)$/);
      // the canary goes to the drifted deployment's devices, with its edge-loop policy
      const policy = await cloud.admin.get<EdgeLoopPolicy>(EDGE_LOOP_PATHS.policy(run!.deployment!));
      expect(policy).toEqual(await cloud.admin.get<EdgeLoopPolicy>(EDGE_LOOP_PATHS.policy(depId)));
      const dep = await cloud.waitDeployment(run!.deployment!, ['succeeded'], 120_000);
      expect(dep).toMatchObject({ version: '1.1.0', strategy: 'canary' });
      await waitUntil(() => agent.served.get('clf')?.version === '1.1.0', 30_000, 'the agent serves 1.1.0');

      // still drifted (the reports of 1.0.0 are in the window), but the cooldown holds: one run only
      const after = await decisionAfter(Date.now());
      expect(after.due).toBe(false);
      expect(after.reason).toMatch(/^cooldown: clf@1\.1\.0 was retrained \d+ min ago \(cooldown 1440 min\)$/);
      expect((await status()).runs).toHaveLength(1);
    }, 900_000);

    it('off by default: a control plane without the option reports it off and never trains', async () => {
      const plain = await TestCloud.start();
      try {
        expect(await plain.admin.get<RetrainSchedulerStatus>(EDGE_LOOP_PATHS.retrain)).toEqual({
          enabled: false,
          policy: null,
          last_check: null,
          running: null,
          decisions: [],
          runs: [],
        });
        await plain.cp.retrain.tick();
        expect(plain.cp.retrain.status().last_check).toBeNull();
      } finally {
        await plain.close();
      }
    }, 120_000);
  },
);
