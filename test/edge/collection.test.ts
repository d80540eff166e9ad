/**
 * Collection on the agent, without a cloud: the confidence measures against hand-computed values,
 * each hard-example filter and the sample rate, quota eviction (oldest first, counted when an item
 * had not been uploaded), the per-class cap, persistence across a reopen of agent.db, policies of
 * an unknown version, and the collection as a local dataset.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { rng } from '../../src/data/dataset.ts';
import { AgentStore } from '../../src/edge/agent-store.ts';
import { collectedDataset } from '../../src/edge/collected-dataset.ts';
import { ITEM_OVERHEAD_BYTES } from '../../src/edge/collection-store.ts';
import { hardExampleReason, outputConfidence } from '../../src/edge/confidence.ts';
import { AgentEdgeLoop } from '../../src/edge/edge-loop.ts';
import { CollectPolicy, EdgeLoopPolicy, type DesiredModel } from '../../src/protocol/index.ts';
import type { TensorValue } from '../../src/runtime/index.ts';

const dirs: string[] = [];
const stores: AgentStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(dir?: string): { store: AgentStore; loop: AgentEdgeLoop; dir: string } {
  const d = dir ?? mkdtempSync(join(tmpdir(), 'verge-collect-'));
  if (!dir) dirs.push(d);
  const store = new AgentStore(d);
  stores.push(store);
  const loop = new AgentEdgeLoop({
    db: store.db,
    deviceId: 'dev-0001',
    password: 'x',
    cloudUrl: () => 'http://127.0.0.1:9',
    codecContext: {},
    log: () => undefined,
  });
  return { store, loop, dir: d };
}

function desired(collect: Record<string, unknown>, extra: Record<string, unknown> = {}): DesiredModel[] {
  return [
    {
      deployment_id: 'dep-1',
      name: 'clf',
      version: '1.0.0',
      variants: [] as never,
      edge_loop: { policy_version: 1, collect, ...extra },
    },
  ];
}

const MODEL = { name: 'clf', version: '1.0.0' };
/** A [n, 4] float32 input whose values encode the sample index, and [n, 3] probabilities. */
function request(probs: number[][], base = 0): { input: TensorValue; output: TensorValue } {
  const n = probs.length;
  const x = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) x.fill(base + i, i * 4, i * 4 + 4);
  return {
    input: { dtype: 'float32', dims: [n, 4], data: x },
    output: { dtype: 'float32', dims: [n, 3], data: Float32Array.from(probs.flat()) },
  };
}

describe('confidence', () => {
  it('probabilities are used as they are, logits go through a softmax', () => {
    const [p] = outputConfidence([1, 3], [0.7, 0.2, 0.1]);
    expect(p!.predicted).toBe(0);
    expect(p!.top1).toBeCloseTo(0.7, 6);
    expect(p!.margin).toBeCloseTo(0.5, 6);
    expect(p!.entropy).toBeCloseTo(-(0.7 * Math.log(0.7) + 0.2 * Math.log(0.2) + 0.1 * Math.log(0.1)), 6);
    const [l] = outputConfidence([1, 2], [0, Math.log(3)]); // softmax = [0.25, 0.75]
    expect(l).toMatchObject({ predicted: 1 });
    expect(l!.top1).toBeCloseTo(0.75, 6);
    expect(l!.margin).toBeCloseTo(0.5, 6);
    expect(outputConfidence([2, 3], [1, 2, 3, 3, 2, 1]).map((c) => c.predicted)).toEqual([2, 0]);
    expect(outputConfidence([1, 1, 4, 4], new Array(16).fill(0))).toEqual([]); // not a class vector
  });

  it('each hard-example rule, and none when no rule is given', () => {
    const c = { predicted: 0, top1: 0.55, margin: 0.15, entropy: 0.9 };
    expect(hardExampleReason(c, { top1_below: 0.6 })).toBe('top1');
    expect(hardExampleReason(c, { top1_below: 0.5 })).toBeNull();
    expect(hardExampleReason(c, { margin_below: 0.2 })).toBe('margin');
    expect(hardExampleReason(c, { margin_below: 0.1 })).toBeNull();
    expect(hardExampleReason(c, { entropy_above: 0.8 })).toBe('entropy');
    expect(hardExampleReason(c, { entropy_above: 1.0 })).toBeNull();
    expect(hardExampleReason(c, {})).toBeNull();
  });
});

describe('collection policy and store', () => {
  it('keeps only what the filters select, per sample of a batch', () => {
    const { loop } = open();
    loop.applyDesired(desired({ hard: { top1_below: 0.6, margin_below: 0.1 } }));
    const r = request([
      [0.9, 0.05, 0.05], // easy
      [0.5, 0.3, 0.2], // top1 < 0.6
      [0.62, 0.3, 0.08], // easy (margin 0.32)
      [0.45, 0.44, 0.11], // top1 (first rule wins)
    ]);
    const { stored } = loop.collector.observe(MODEL, 'input', r.input, r.output);
    expect(stored).toBe(2);
    const items = loop.store.all();
    expect(items.map((i) => [i.reason, i.data[0]])).toEqual([
      ['top1', 1],
      ['top1', 3],
    ]);
    expect(items[0]!.dims).toEqual([4]);
    expect(items[0]!.deployment_id).toBe('dep-1');
    expect(loop.collector.counters.seen).toBe(4);
  });

  it('the sample rate keeps about that fraction of confident inputs', () => {
    const d = mkdtempSync(join(tmpdir(), 'verge-collect-'));
    dirs.push(d);
    const store = new AgentStore(d);
    stores.push(store);
    const seeded = new AgentEdgeLoop({
      db: store.db,
      deviceId: 'dev-0001',
      password: 'x',
      cloudUrl: () => 'http://127.0.0.1:9',
      codecContext: {},
      log: () => undefined,
      random: rng(7),
    }).collector;
    seeded.setPolicies(
      new Map([
        [
          'clf',
          {
            deployment_id: null,
            policy: EdgeLoopPolicy.parse({ policy_version: 1, collect: { sample_rate: 0.25 } }),
          },
        ],
      ]),
    );
    const r = request(Array.from({ length: 400 }, () => [0.98, 0.01, 0.01]));
    const { stored } = seeded.observe(MODEL, 'input', r.input, r.output);
    expect(stored).toBeGreaterThan(70);
    expect(stored).toBeLessThan(130);
    expect(seeded.store.all().every((i) => i.reason === 'sample')).toBe(true);
  });

  it('evicts oldest first at the quota and counts evicted items that were never uploaded', () => {
    const { loop } = open();
    const itemBytes = 4 * 4 + ITEM_OVERHEAD_BYTES;
    const quotaMb = (5.5 * itemBytes) / 2 ** 20; // room for 5 items
    loop.applyDesired(desired({ sample_rate: 1, quota_mb: quotaMb }));
    for (let k = 0; k < 4; k++) {
      const r = request([[0.9, 0.05, 0.05]], k);
      loop.collector.observe(MODEL, 'input', r.input, r.output);
    }
    loop.store.markUploaded(
      loop.store
        .all()
        .slice(0, 2)
        .map((i) => i.id),
    ); // items 0 and 1 reached the cloud
    for (let k = 4; k < 8; k++) {
      const r = request([[0.9, 0.05, 0.05]], k);
      loop.collector.observe(MODEL, 'input', r.input, r.output);
    }
    expect(loop.store.all().map((i) => i.data[0])).toEqual([3, 4, 5, 6, 7]);
    expect(loop.store.bytes).toBe(5 * itemBytes);
    expect(loop.store.counts()).toMatchObject({ items: 5, evicted_pending: 1 }); // item 2 was never uploaded
    expect(loop.collector.counters.evicted).toBe(3);
  });

  it('per-class cap: an uploaded item of the class makes room, else the new one is not kept', () => {
    const { loop } = open();
    loop.applyDesired(desired({ sample_rate: 1, per_class_cap: 2 }));
    const cls = (c: number, base: number) => {
      const p = [0.1, 0.1, 0.1];
      p[c] = 0.8;
      const r = request([p], base);
      return loop.collector.observe(MODEL, 'input', r.input, r.output).stored;
    };
    expect([cls(0, 0), cls(0, 1), cls(1, 2), cls(0, 3)]).toEqual([1, 1, 1, 0]);
    expect(loop.collector.counters.skipped_class_cap).toBe(1);
    loop.store.markUploaded([loop.store.all()[0]!.id]);
    expect(cls(0, 4)).toBe(1);
    expect(loop.store.all().map((i) => [i.predicted, i.data[0]])).toEqual([
      [0, 1],
      [1, 2],
      [0, 4],
    ]);
  });

  it('items, upload marks and the policy survive a reopen of agent.db', () => {
    const a = open();
    a.loop.applyDesired(desired({ hard: { entropy_above: 0.5 } }));
    const r = request([
      [0.34, 0.33, 0.33],
      [0.98, 0.01, 0.01],
    ]);
    a.loop.collector.observe(MODEL, 'input', r.input, r.output);
    const [item] = a.loop.store.all();
    a.loop.store.markRejected(item!.id, 'E_DATA_INVALID: test');
    a.store.close();
    const b = open(a.dir);
    expect(b.loop.store.all().map((i) => [i.id, i.reason, i.upload_error])).toEqual([
      [item!.id, 'entropy', 'E_DATA_INVALID: test'],
    ]);
    expect(Array.from(b.loop.store.all()[0]!.data)).toEqual([0, 0, 0, 0]);
    expect(b.loop.collector.policyOf('clf')?.policy.collect?.hard).toEqual({ entropy_above: 0.5 });
    expect(b.loop.store.pendingUpload(10)).toEqual([]); // refused items are not resent
  });

  it('a policy of an unknown version leaves the previous policy in place', () => {
    const { loop } = open();
    loop.applyDesired(desired({ sample_rate: 0.5 }));
    loop.applyDesired([{ ...desired({})[0]!, edge_loop: { policy_version: 2, collect: { sample_rate: 1 } } }]);
    expect(loop.collector.policyOf('clf')?.policy.collect?.sample_rate).toBe(0.5);
    loop.applyDesired([{ ...desired({})[0]!, edge_loop: undefined }]);
    expect(loop.collector.policyOf('clf')).toBeUndefined();
    expect(CollectPolicy.safeParse({ codecs: ['Bad Codec'] }).success).toBe(false);
  });

  it('the collection as a local dataset: stable split, cloud labels before pseudo-labels', () => {
    const { loop } = open();
    loop.applyDesired(desired({ sample_rate: 1 }));
    const probs = Array.from({ length: 50 }, (_, i) => {
      const p = [0.1, 0.1, 0.1];
      p[i % 3] = 0.8;
      return p;
    });
    const r = request(probs);
    loop.collector.observe(MODEL, 'input', r.input, r.output, {
      cloudPredicted: probs.map((_, i) => (i === 0 ? 2 : null)),
    });
    const ds = collectedDataset(loop.store, { model: 'clf' });
    expect(ds.shape).toEqual([4]);
    expect(ds.classes).toBe(3);
    expect(ds.train.count + ds.test.count).toBe(50);
    expect(ds.test.count).toBeGreaterThan(2);
    const all = [...ds.train.y, ...ds.test.y];
    expect(all.filter((y) => y === 2).length).toBe(16 + 1); // item 0 (class 0) relabelled 2 by the cloud
    expect(collectedDataset(loop.store, { model: 'clf' }).test.x).toEqual(ds.test.x);
    expect(() => collectedDataset(loop.store, { model: 'other' })).toThrow(/no collected items of model 'other'/);
  });
});
