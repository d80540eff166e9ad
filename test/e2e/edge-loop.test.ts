/**
 * The edge data loop end to end, over the real control plane (embedded broker + SQLite, HTTP on
 * ephemeral ports) and real agents: a policy set on a deployment reaches the agent inside its
 * desired state; the agent keeps only the hard examples; items upload with the negotiated codec
 * and land in the cloud's store decodable within the codec's bound; with the cloud down the agent
 * keeps collecting, survives a restart, and uploads everything once the cloud is back — nothing
 * lost, nothing stored twice. Bad uploads and policies get one clear error and change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTensor } from '../../src/data/codecs/index.ts';
import { EdgeAgent } from '../../src/edge/agent.ts';
import {
  EDGE_LOOP_PATHS,
  decodeUploadBatch,
  encodeUploadBatch,
  type CollectedItem,
  type EdgeLoopPolicy,
  type UploadResponse,
} from '../../src/protocol/index.ts';
import { encodeCodecFrame } from '../../src/protocol/codec-frame.ts';
import { deviceAuthHeader } from '../../src/edge/enrollment.ts';
import { tinyModelBytes } from '../edge/models.ts';
import { dropSchema, externalServicesSkipReason, PG_URL, uniqueSchema } from '../cloud/services.ts';
import { mosquittoSkipReason, startMosquitto, type TestBroker } from '../edge/brokers.ts';
import { agentOptions, deviceUpload, predict, startAgent, TestCloud, waitUntil } from './harness.ts';

/**
 * tinyModelBytes(1) on a constant image v: logits 0.784·v·(k+1) for class k, so the top-1
 * probability grows with v — about 0.33 at v = 0.5 (hard) and 0.98 at v = 5 (easy).
 */
const HARD = 0.5;
const EASY = 5;

const externalSkip = (await externalServicesSkipReason()) ?? mosquittoSkipReason() ?? null;
const backends = [
  { name: 'embedded broker + SQLite', external: false, skip: null as string | null },
  { name: 'Mosquitto + PostgreSQL', external: true, skip: externalSkip },
];

for (const backend of backends)
  describe.skipIf(backend.skip !== null)(
    `edge data loop over ${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ''}`,
    () => {
      let cloud: TestCloud;
      let agent: EdgeAgent;
      let deploymentId = '';
      let broker: TestBroker | undefined;
      let schema: string | undefined;

      beforeAll(async () => {
        if (backend.external) {
          broker = await startMosquitto();
          schema = uniqueSchema();
          cloud = await TestCloud.start({ broker: broker.url, db: PG_URL, pgSchema: schema });
        } else cloud = await TestCloud.start();
        agent = await startAgent(cloud, 'cam-loop', { uploadIntervalMs: 150 });
        await cloud.publish('clf', '1.0.0', tinyModelBytes(1));
        const dep = await cloud.deploy({ model: 'clf', version: '1.0.0', target: { devices: ['cam-loop'] } });
        deploymentId = dep.id;
        await cloud.waitDeployment(dep.id, ['succeeded']);
      }, 60_000);
      afterAll(async () => {
        await agent?.stop().catch(() => undefined);
        await cloud?.close();
        await broker?.close();
        if (schema) await dropSchema(schema);
      });

      const cloudItems = async (): Promise<{ items: CollectedItem[]; total: number }> =>
        cloud.admin.get(`${EDGE_LOOP_PATHS.items}?model=clf&limit=1000`);

      it('a deployment policy reaches the agent; only hard examples are kept and uploaded', async () => {
        const policy = await cloud.admin.request<EdgeLoopPolicy>('PUT', EDGE_LOOP_PATHS.policy(deploymentId), {
          collect: { hard: { top1_below: 0.6 }, codecs: ['quantize-delta:8'], quota_mb: 4 },
        });
        expect(policy).toMatchObject({ policy_version: 1, collect: { sample_rate: 0, per_class_cap: null } });
        await waitUntil(() => agent.loop.collector.policyOf('clf') !== undefined, 10_000, 'the policy on the agent');

        for (let i = 0; i < 6; i++) {
          expect((await predict(agent, 'clf', 1, HARD)).body.answered_by).toBe('edge');
          expect((await predict(agent, 'clf', 1, EASY)).status).toBe(200);
        }
        const local = agent.loop.store.all('clf');
        expect(local).toHaveLength(6);
        expect(local.every((i) => i.reason === 'top1' && i.top1 < 0.6 && i.predicted === 9)).toBe(true);

        await waitUntil(async () => (await cloudItems()).total === 6, 15_000, 'six items in the cloud');
        const { items } = await cloudItems();
        expect(items.every((i) => i.codec === 'quantize-delta' && i.device_id === agent.deviceId)).toBe(true);
        expect(items.every((i) => i.model.version === '1.0.0' && i.deployment_id === deploymentId)).toBe(true);
        expect(new Set(items.map((i) => i.id))).toEqual(new Set(local.map((i) => i.id)));
        expect(agent.loop.store.counts()).toMatchObject({ items: 6, pending: 0, uploaded: 6 });
      }, 60_000);

      it('offline: keeps collecting, survives a restart, then uploads everything exactly once', async () => {
        await cloud.down(); // embedded: the broker goes with it; external: the broker stays, HTTP is gone
        if (!backend.external) await waitUntil(() => agent.state !== 'online', 10_000, 'the agent notices the outage');
        for (let i = 0; i < 5; i++) await predict(agent, 'clf', 1, HARD + i * 0.01);
        expect(agent.loop.store.counts().pending).toBe(5);

        // restart the agent on its data dir while the cloud is still down
        const dataDir = agent.store.dataDir;
        await agent.stop();
        agent = await EdgeAgent.start(agentOptions(dataDir, { uploadIntervalMs: 150 }));
        expect(agent.loop.store.counts()).toMatchObject({ items: 11, pending: 5 });
        expect(agent.loop.collector.policyOf('clf')?.policy.collect?.hard.top1_below).toBe(0.6);
        for (let i = 0; i < 3; i++) await predict(agent, 'clf', 1, HARD + 0.1 + i * 0.01);
        expect(agent.loop.store.counts().pending).toBe(8);

        await cloud.up();
        await waitUntil(() => agent.loop.store.counts().pending === 0, 20_000, 'the backlog uploaded');
        const { items, total } = await cloudItems();
        expect(total).toBe(14);
        expect(new Set(items.map((i) => i.id)).size).toBe(14);
        expect(new Set(items.map((i) => i.id))).toEqual(new Set(agent.loop.store.all('clf').map((i) => i.id)));
      }, 90_000);

      it('a re-sent batch is acknowledged as duplicates and stored once; frames decode within their bound', async () => {
        const local = agent.loop.store.all('clf').slice(0, 3);
        const frames = await Promise.all(
          local.map(async (i) => {
            const { encodeTensor } = await import('../../src/data/codecs/index.ts');
            return (await encodeTensor('quantize-delta:8', { dims: [1, ...i.dims], data: i.data })).frame;
          }),
        );
        const batch = encodeUploadBatch(
          local.map((i, k) => {
            const { seq: _s, dims: _d, data: _x, bytes: _b, uploaded_at: _u, upload_error: _e, ...meta } = i;
            return { meta, frame: frames[k]! };
          }),
        );
        const res = await deviceUpload(cloud.url, agent, batch);
        expect(res.status).toBe(200);
        const body = (await res.json()) as UploadResponse;
        expect(body.accepted).toEqual([]);
        expect(body.duplicates.sort()).toEqual(local.map((i) => i.id).sort());
        expect((await cloudItems()).total).toBe(14);

        // what the cloud exports is the device's input within the quantizer's half step
        const page = await fetch(`${cloud.url}${EDGE_LOOP_PATHS.export}?model=clf&limit=20`, {
          headers: { authorization: `Bearer ${cloud.cp.adminKey}` },
        });
        const exported = decodeUploadBatch(new Uint8Array(await page.arrayBuffer())).items;
        expect(exported).toHaveLength(14);
        for (const e of exported) {
          if ('error' in e) throw new Error(e.error);
          const mine = agent.loop.store.get(e.meta.id)!;
          const back = await decodeTensor(e.frame);
          expect(back.dims).toEqual([1, 1, 28, 28]);
          const err = Math.max(...back.data.map((v, k) => Math.abs(v - mine.data[k]!)));
          expect(err).toBeLessThanOrEqual(1e-6);
        }
      }, 30_000);

      it('bad input: unknown codec, unknown deployment, malformed and oversized uploads, bad frames', async () => {
        await expect(
          cloud.admin.request('PUT', EDGE_LOOP_PATHS.policy(deploymentId), { collect: { codecs: ['zstd'] } }),
        ).rejects.toThrow(/unknown codec 'zstd'/);
        await expect(cloud.admin.request('PUT', EDGE_LOOP_PATHS.policy('dep-nope'), { collect: {} })).rejects.toThrow(
          /no deployment 'dep-nope'/,
        );
        await expect(
          cloud.admin.request('PUT', EDGE_LOOP_PATHS.policy(deploymentId), { collect: { sample_rate: 2 } }),
        ).rejects.toThrow(/sample_rate/);

        const before = (await cloudItems()).total;
        const garbage = await deviceUpload(cloud.url, agent, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
        expect(garbage.status).toBe(400);
        expect(((await garbage.json()) as { error: { code: string; message: string } }).error).toMatchObject({
          code: 'E_DATA_INVALID',
          message: expect.stringMatching(/upload batch: bad magic/),
        });
        const huge = await deviceUpload(cloud.url, agent, new Uint8Array(17 * 2 ** 20));
        expect(huge.status).toBe(413);

        // one good item and one whose frame lies about its dims: the good one lands, the bad one is refused alone
        const meta = (id: string) => ({
          id,
          model: { name: 'clf', version: '1.0.0' },
          deployment_id: null,
          input: 'input',
          created_at: Date.now(),
          reason: 'sample' as const,
          predicted: 1,
          top1: 0.5,
          margin: 0.1,
          entropy: 1,
          cloud_predicted: null,
        });
        const good = encodeCodecFrame({ codec: 'lossless', params: {}, dims: [2], payload: new Uint8Array([3, 0]) });
        const { encodeTensor } = await import('../../src/data/codecs/index.ts');
        const ok = (await encodeTensor('lossless', { dims: [1, 2], data: Float32Array.of(1, 2) })).frame;
        const res = await deviceUpload(
          cloud.url,
          agent,
          encodeUploadBatch([
            { meta: meta('manual-good-1'), frame: ok },
            { meta: meta('manual-bad-1'), frame: good },
          ]),
        );
        const body = (await res.json()) as UploadResponse;
        expect(body.accepted).toEqual(['manual-good-1']);
        expect(body.rejected).toEqual([
          {
            id: 'manual-bad-1',
            code: 'E_DATA_INVALID',
            message: expect.stringMatching(/does not inflate|inflates to/),
          },
        ]);
        expect((await cloudItems()).total).toBe(before + 1);

        // a device cannot read the operator's item list; an operator cannot upload as a device
        const asDevice = await fetch(`${cloud.url}${EDGE_LOOP_PATHS.items}`, {
          headers: { authorization: deviceAuthHeader(agent.deviceId, agent.identity.password) },
        });
        expect(asDevice.status).toBe(403);
        await expect(cloud.admin.upload(EDGE_LOOP_PATHS.items, new Uint8Array(8))).rejects.toThrow(/not allowed/);
      }, 30_000);
    },
  );
