/**
 * The learning half of the edge data loop over the real control plane (embedded broker +
 * SQLite) with real Fashion-MNIST images and the trained seed classifier:
 * - a learned codec: its encoder deployed to the agent like any model (signed, verified), items
 *   uploaded as 6-bit latents (`learned:ae@1.0.0:6`) and decoded in the cloud by the decoder from the registry;
 * - collected items labelled by an operator, `verge retrain clf@1.0.0 --with-collected`
 *   publishing clf@1.1.0 with lineage, which the usual canary rollout then deploys;
 * - bad input to retrain ends with one line.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionCodecContext, trainAutoencoder } from '../../src/cli/codec-train.ts';
import { take } from '../../src/data/dataset.ts';
import { encodeTensor, maxAbsError, psnr } from '../../src/data/codecs/index.ts';
import { loadDataset } from '../../src/data/load-dataset.ts';
import type { Dataset } from '../../src/data/dataset.ts';
import type { EdgeAgent } from '../../src/edge/agent.ts';
import { encodeModel } from '../../src/onnx/codec.ts';
import {
  EDGE_LOOP_PATHS,
  HTTP_PATHS,
  decodeUploadBatch,
  type CollectedItem,
  type ModelsResponse,
} from '../../src/protocol/index.ts';
import { decodeTensor } from '../../src/data/codecs/index.ts';
import { ROOT, secretFile, verge } from '../cli/cli.ts';
import { fixturePath } from '../fixtures/index.ts';
import { checkOnnxFiles } from '../fixtures/onnx-checker.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { startAgent, TestCloud, waitUntil } from './harness.ts';

const SUBSET = join(ROOT, 'data', 'fashion-mnist-subset');

async function classify(agent: EdgeAgent, x: Float32Array): Promise<void> {
  const res = await fetch(`${agent.url}/v1/models/clf:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: { input: { dims: [1, 1, 28, 28], data: Array.from(x) } } }),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

describe('edge data loop: learned codec and retraining (embedded broker + SQLite)', () => {
  let cloud: TestCloud;
  let agent: EdgeAgent;
  let data: Dataset;
  let depId = '';
  const N = 80;

  beforeAll(async () => {
    data = await loadDataset(SUBSET);
    cloud = await TestCloud.start();
    agent = await startAgent(cloud, 'cam-learn', { uploadIntervalMs: 150 });
    await cloud.publish('clf', '1.0.0', readFileSync(fixturePath('seed_cnn_fmnist')));
    const dep = await cloud.deploy({ model: 'clf', version: '1.0.0', target: { devices: ['cam-learn'] } });
    depId = dep.id;
    await cloud.waitDeployment(dep.id, ['succeeded']);
  }, 60_000);
  afterAll(async () => {
    await agent?.stop().catch(() => undefined);
    await cloud?.close();
  });

  it('a learned codec: encoder deployed to the agent, latents uploaded, decoded in the cloud', async () => {
    const ae = await trainAutoencoder(
      { ...data, train: take(data.train, 600) },
      { latent: 16, epochs: 1, batchSize: 64, lr: 2e-3, seed: 0, threads: 1 },
    );
    const local = await sessionCodecContext('ae@1.0.0', ae);
    await cloud.publish('ae-encoder', '1.0.0', encodeModel(ae.encoder));
    await cloud.publish('ae-decoder', '1.0.0', encodeModel(ae.decoder));
    const enc = await cloud.deploy({ model: 'ae-encoder', version: '1.0.0', target: { devices: ['cam-learn'] } });
    await cloud.waitDeployment(enc.id, ['succeeded']);
    expect((await cloud.admin.get<{ learned: string[] }>(EDGE_LOOP_PATHS.codecs)).learned).toEqual(['ae@1.0.0']);
    await cloud.admin.request('PUT', EDGE_LOOP_PATHS.policy(depId), {
      collect: { sample_rate: 1, codecs: ['learned:ae@1.0.0:6', 'lossless'] }, // 6-bit latents
    });
    await waitUntil(() => !!agent.loop.collector.policyOf('clf'), 10_000, 'the policy');
    for (let i = 0; i < 10; i++) await classify(agent, data.test.x.subarray(i * 784, (i + 1) * 784));
    const items = async () =>
      (await cloud.admin.get<{ items: CollectedItem[] }>(`${EDGE_LOOP_PATHS.items}?model=clf&limit=100`)).items;
    await waitUntil(async () => (await items()).length === 10, 20_000, 'ten learned-codec items in the cloud');
    const got = await items();
    expect(got.every((i) => i.codec === 'learned')).toBe(true);
    expect(Math.max(...got.map((i) => i.frame_bytes))).toBeLessThan(3136 / 10);
    const page = await fetch(`${cloud.url}${EDGE_LOOP_PATHS.export}?model=clf`, {
      headers: { authorization: `Bearer ${cloud.cp.adminKey}` },
    });
    for (const e of decodeUploadBatch(new Uint8Array(await page.arrayBuffer())).items) {
      if ('error' in e) throw new Error(e.error);
      // the cloud's decoding = decoder(6-bit latent of encoder(x)), as the same halves compute it here
      const decoded = (await decodeTensor(e.frame)).data;
      const original = agent.loop.store.get(e.meta.id)!.data;
      const here = await encodeTensor('learned:ae@1.0.0:6', { dims: [1, 1, 28, 28], data: original }, local.ctx);
      expect(maxAbsError((await decodeTensor(here.frame, local.ctx)).data, decoded)).toBeLessThan(1e-5);
      expect(psnr(original, decoded)).toBeGreaterThan(5); // a 1-epoch autoencoder: far from good, far from noise
    }
    await local.release();
  }, 180_000);

  it('operator labels, verge retrain --with-collected publishes 1.1.0 with lineage, the canary rollout deploys it', async () => {
    await cloud.admin.request('PUT', EDGE_LOOP_PATHS.policy(depId), {
      collect: { sample_rate: 1, codecs: ['quantize-delta:8'] },
    });
    await waitUntil(
      () => agent.loop.collector.policyOf('clf')?.policy.collect?.codecs[0] === 'quantize-delta:8',
      10_000,
      'the new policy',
    );
    const already = agent.loop.store.all('clf').length;
    for (let i = 0; i < N; i++) await classify(agent, data.test.x.subarray(i * 784, (i + 1) * 784));
    const mine = agent.loop.store.all('clf').slice(already);
    expect(mine).toHaveLength(N);
    await waitUntil(() => agent.loop.store.counts().pending === 0, 20_000, 'all uploaded');
    const labelled = await cloud.admin.post<{ labelled: number; unknown: number }>(EDGE_LOOP_PATHS.labels, {
      labels: mine.map((it, i) => ({ device_id: agent.deviceId, id: it.id, label: data.test.y[i]! })),
    });
    expect(labelled).toEqual({ labelled: N, unknown: 0, unknown_items: [] });

    // verge data pull --from-fleet: the labelled items as a data folder verge's loaders read
    const pulledDir = join(cloud.dataDir, 'pulled');
    const cloudFlags = ['--cloud', cloud.url, '--api-key-file', secretFile(cloud.cp.adminKey)];
    const pull = await verge(['data', 'pull', '--from-fleet', 'clf', '--out', pulledDir, ...cloudFlags, '--json']);
    expect(pull.code, pull.stderr).toBe(0);
    const pj = JSON.parse(pull.stdout);
    expect([pj.train + pj.test, pj.unlabelled, pj.shape]).toEqual([N, 10, [1, 28, 28]]);
    const ds = await loadDataset(pulledDir);
    expect([ds.train.count, ds.test.count]).toEqual([pj.train, pj.test]);
    const manifest = JSON.parse(readFileSync(join(pulledDir, 'fleet.json'), 'utf8'));
    const byId = new Map(mine.map((it, i) => [it.id, { label: data.test.y[i]!, x: it.data }]));
    for (const [split, ids] of [
      [ds.train, manifest.train.ids],
      [ds.test, manifest.test.ids],
    ] as const) {
      (ids as string[]).forEach((id, k) => {
        const want = byId.get(id)!;
        expect(split.y[k]).toBe(want.label); // the operator's label
        // quantize-delta:8 on the uplink: within half a step of [0, 1] / 255
        expect(maxAbsError(want.x, split.x.subarray(k * 784, (k + 1) * 784))).toBeLessThan(0.5 / 255 + 1e-6);
      });
    }
    const again = await verge(['data', 'pull', '--from-fleet', 'clf', '--out', pulledDir, ...cloudFlags]);
    expect(again.code).not.toBe(0);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/E_CONFLICT: .* holds .*x\.npy.* already; give another --out or --force/);

    const tuned = join(cloud.dataDir, 'clf-1.1.0.onnx');
    const r = await verge([
      'retrain',
      'clf@1.0.0',
      '--with-collected',
      '--epochs',
      '1',
      '--force',
      '--threads',
      '1',
      '--out',
      tuned,
      '--cloud',
      cloud.url,
      '--api-key-file',
      secretFile(cloud.cp.adminKey),
      '--json',
    ]);
    expect(r.stderr).toMatch(/collected: 80 labelled items of clf .* 10 without a label left out/);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.published).toEqual({ name: 'clf', version: '1.1.0' });
    expect(out.samples.collected_train + out.samples.holdout).toBe(N);
    expect(out.holdout.before).toBeGreaterThan(0.5); // the trained classifier on real images
    const reg = await cloud.admin.get<ModelsResponse>(HTTP_PATHS.model('clf'));
    const v = reg.models[0]!.versions.find((x) => x.version === '1.1.0')!;
    expect(v.parent).toBe('clf@1.0.0');
    expect(v.optimization).toMatch(/^retrain:collected\(\d+\)$/);
    expect(v.metrics.holdout_accuracy).toBeCloseTo(out.holdout.after, 6);
    // what retrain writes (--out) and what it publishes pass the official ONNX checker
    const published = join(cloud.dataDir, 'clf-1.1.0.published.onnx');
    const res = await fetch(`${cloud.url}${v.variants[0]!.url}`, {
      headers: { authorization: `Bearer ${cloud.cp.adminKey}` },
    });
    expect(res.status).toBe(200);
    writeFileSync(published, new Uint8Array(await res.arrayBuffer()));
    const check = checkOnnxFiles([tuned, published]);
    if (!check.skipped) expect(check.failures).toEqual([]);

    const canary = await cloud.deploy({
      model: 'clf',
      version: '1.1.0',
      target: { devices: ['cam-learn'] },
      strategy: 'canary',
      canary_percent: 50,
    });
    await cloud.waitDeployment(canary.id, ['succeeded'], 60_000);
    await waitUntil(() => agent.served.get('clf')?.version === '1.1.0', 10_000, 'the agent serves 1.1.0');
  }, 600_000); // three CLI starts and a fine-tuning run: over 300 s at load 30 on 2 cores

  it('bad input to retrain: one line', async () => {
    const base = ['--with-collected', '--cloud', cloud.url, '--api-key-file', secretFile(cloud.cp.adminKey)];
    for (const [args, pattern] of [
      [['retrain', 'clf', ...base], /E_BAD_ARGUMENT: give the starting model as <name>@<semver>/],
      [['retrain', 'clf@9.0.0', ...base], /E_NOT_FOUND: no version 9.0.0 of 'clf'/],
      [['retrain', 'clf@1.0.0', '--version', '1.1.0', ...base], /E_CONFLICT: clf@1.1.0 exists already/],
      [['retrain', 'ae-encoder@1.0.0', ...base], /no labelled collected items of 'ae-encoder'/],
    ] as [string[], RegExp][]) {
      const r = await verge(args);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    }
  }, 600_000); // four CLI starts: ~30 s each at load 17, ~60 s at load 30 on 2 cores
});
