/**
 * The edge data loop's collected items as federated client data (`verge agent --fl-collected`):
 * `flLocalData` joins them with `--data` (or refuses a shape mismatch), and over a real fleet
 * (embedded broker + SQLite) an agent whose only local data is what it collected trains a round:
 * its update counts exactly its collected training items, and its evaluation its collected hold-out.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset.ts';
import { AgentStore } from '../../src/edge/agent-store.ts';
import type { EdgeAgent } from '../../src/edge/agent.ts';
import { collectedDataset } from '../../src/edge/collected-dataset.ts';
import { CollectionStore } from '../../src/edge/collection-store.ts';
import { flLocalData } from '../../src/edge/fl-local-data.ts';
import { encodeModel } from '../../src/onnx/codec.ts';
import { FL_PATHS, type FlJob } from '../../src/protocol/index.ts';
import { startAgent, TestCloud, waitUntil } from '../e2e/harness.ts';
import { deviceShards, waitOnline } from './fleet-support.ts';
import { BLOB_DIM, blobDataset, blobModel } from './helpers.ts';

const QUOTA = 64 * 1024 * 1024;
const data = blobDataset(600, 200);

/** Store the first `n` samples of `split` as if the agent had collected them (labels = its predictions). */
function collect(store: CollectionStore, split: Dataset['train'], n: number, model = 'blobnet'): void {
  for (let i = 0; i < n; i++)
    store.add(
      {
        id: `item-${model}-${i}`,
        model: { name: model, version: '1.0.0' },
        deployment_id: null,
        input: 'input',
        dims: [BLOB_DIM],
        data: split.x.slice(i * BLOB_DIM, (i + 1) * BLOB_DIM),
        created_at: Date.now(),
        reason: 'sample',
        predicted: split.y[i]!,
        top1: 0.9,
        margin: 0.5,
        entropy: 0.3,
        cloud_predicted: null,
      },
      QUOTA,
      null,
    );
}

describe('collected items as FL client data', () => {
  const dirs: string[] = [];
  const stores: AgentStore[] = [];
  afterAll(() => {
    for (const s of stores) s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const open = (): CollectionStore => {
    const d = mkdtempSync(join(tmpdir(), 'verge-fl-collected-'));
    dirs.push(d);
    const s = new AgentStore(d);
    stores.push(s);
    return new CollectionStore(s.db);
  };

  it('joins --data and the collected items (train with train), or refuses a shape mismatch', async () => {
    const store = open();
    collect(store, data.train, 50);
    const collected = collectedDataset(store, { model: 'blobnet' });
    const joined = await flLocalData({ data: async () => data, collected: { model: 'blobnet' }, store });
    expect(joined.train.count).toBe(data.train.count + collected.train.count);
    expect(joined.test.count).toBe(data.test.count + collected.test.count);
    expect(Array.from(joined.train.x.subarray(data.train.x.length))).toEqual(Array.from(collected.train.x));
    expect(Array.from(joined.train.y.subarray(data.train.count))).toEqual(Array.from(collected.train.y));
    // --data without a test split: everything goes to train, the agent holds out a share of it
    const noTest = { ...data, test: { x: new Float32Array(0), y: new Int32Array(0), count: 0 } };
    const pooled = await flLocalData({ data: async () => noTest, collected: {}, store });
    expect(pooled.train.count).toBe(data.train.count + 50);
    expect(pooled.test.count).toBe(0);
    // only collected
    expect((await flLocalData({ collected: { model: 'blobnet' }, store })).train.count).toBe(collected.train.count);
    const wide = { ...data, shape: [BLOB_DIM * 2] };
    await expect(flLocalData({ data: async () => wide, collected: {}, store })).rejects.toThrow(
      /--data has samples \[16\], the collected items \[8\]/,
    );
    await expect(flLocalData({ collected: { model: 'other' }, store: open() })).rejects.toThrow(
      /no collected items of model 'other'/,
    );
  });

  describe('over the fleet (embedded broker + SQLite)', () => {
    let cloud: TestCloud;
    let collector: EdgeAgent;
    let other: EdgeAgent;
    const shards = deviceShards(data, 2, 3);

    beforeAll(async () => {
      cloud = await TestCloud.start();
      await cloud.publish('blobnet', '1.0.0', encodeModel(blobModel(2)));
      // the collector's only FL data is what it collected (as `verge agent --fl-collected blobnet`)
      collector = await startAgent(cloud, 'collector', { flCollected: { model: 'blobnet' } });
      other = await startAgent(cloud, 'other', { localData: async () => shards[1]! });
      collect(collector.loop.store, shards[0]!.train, 200);
      await waitOnline(cloud, 2, 30_000);
    });

    afterAll(async () => {
      for (const a of [collector, other]) await a?.stop().catch(() => undefined);
      await cloud?.close();
    });

    it('trains a round on the collected items: examples = collected train items, evaluation on their hold-out', async () => {
      const job = await cloud.admin.post<FlJob>(FL_PATHS.jobs, {
        model: { name: 'blobnet', version: '1.0.0' },
        target: { devices: [collector.deviceId, other.deviceId] },
        rounds: 1,
        strategy: 'fedavg',
        min_fit_clients: 2,
        round_timeout_s: 60, // generous: agents build training sessions on a loaded 2-core box
        batch_size: 16,
        lr: 0.1,
      });
      let done = job;
      await waitUntil(
        async () => ['completed', 'failed'].includes((done = await cloud.admin.get<FlJob>(FL_PATHS.job(job.id))).state),
        240_000,
        'the job to end',
      );
      expect(done.error, JSON.stringify(done.history)).toBeNull();
      expect(done.history[0]).toMatchObject({ round: 1, task: 'fit', state: 'closed', accepted: 2 });
      const collected = collectedDataset(collector.loop.store, { model: 'blobnet' });
      const seat = (await cloud.cp.repos.fl.participants(job.id, 1)).find((p) => p.device_id === collector.deviceId)!;
      expect(seat.state).toBe('accepted');
      expect(seat.examples).toBe(collected.train.count);
      expect(seat.metrics.eval_examples).toBe(collected.test.count);
    }, 300_000);
  });
});
