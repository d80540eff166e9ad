/**
 * The control plane bounds what one device uploads to the edge data loop, whatever the agent does
 * (a compromised or buggy device floods POST /v1/edge-loop/items): batches per minute, bytes per
 * minute (checked on content-length before the body is read) and stored bytes per device. Over a
 * bound the answer is 429 E_OVERLOADED with Retry-After; a real agent then pauses and keeps its
 * items queued — nothing lost. Real control plane (embedded broker + SQLite), real agents.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EdgeAgent } from '../../src/edge/agent.ts';
import { EDGE_LOOP_PATHS, type CollectedItem } from '../../src/protocol/index.ts';
import { tinyModelBytes } from '../edge/models.ts';
import { deviceUpload, startAgent, TestCloud, waitUntil } from './harness.ts';

const LIMITS = { batchesPerMinute: 3, bytesPerMinute: 2 * 2 ** 20, storedBytesPerDevice: 20_000 };

/** A predict request with a noisy image: its lossless frame is ~3 KB (a constant image deflates to bytes). */
async function predictNoise(agent: EdgeAgent, seed: number): Promise<void> {
  let s = seed * 7919 + 1;
  const data = Array.from({ length: 784 }, () => ((s = (s * 48271) % 2147483647) % 1000) / 2000);
  const res = await fetch(`${agent.url}/v1/models/clf:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: { input: { dims: [1, 1, 28, 28], data } } }),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

describe('edge-loop upload limits on the control plane (embedded broker + SQLite)', () => {
  let cloud: TestCloud;
  const agents: EdgeAgent[] = [];

  beforeAll(async () => {
    cloud = await TestCloud.start({ uploadLimits: LIMITS });
    for (const name of ['flood-batches', 'flood-bytes']) agents.push(await startAgent(cloud, name));
    // uploads only when the test says (uploadNow): one batch per step, whatever the machine's speed
    agents.push(await startAgent(cloud, 'cam-quota', { uploadIntervalMs: 3_600_000 }));
  }, 60_000);
  afterAll(async () => {
    for (const a of agents) await a.stop().catch(() => undefined);
    await cloud?.close();
  });

  it('more batches per minute than allowed: 429 E_OVERLOADED with Retry-After; other devices unaffected', async () => {
    const [flood, other] = agents as [EdgeAgent, EdgeAgent];
    for (let i = 0; i < LIMITS.batchesPerMinute; i++)
      expect((await deviceUpload(cloud.url, flood, new Uint8Array(9))).status).toBe(400); // garbage, but admitted
    const res = await deviceUpload(cloud.url, flood, new Uint8Array(9));
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await res.json()) as { error: unknown }).error).toEqual({
      code: 'E_OVERLOADED',
      message: expect.stringMatching(/sends more than 3 upload batches per minute; retry in \d+ s/),
    });
    expect((await deviceUpload(cloud.url, other, new Uint8Array(9))).status).toBe(400); // its own budget
  }, 30_000);

  it('more bytes per minute than allowed: refused on content-length, before the body is read', async () => {
    const flood = agents[1]!;
    expect((await deviceUpload(cloud.url, flood, new Uint8Array(15 * 2 ** 20))).status).toBe(400);
    const res = await deviceUpload(cloud.url, flood, new Uint8Array(3 * 2 ** 20));
    expect(res.status).toBe(429);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /sends more than 2,097,152 upload bytes per minute/,
    );
  }, 30_000);

  it('over its storage quota a device is refused; the agent pauses and keeps its items queued', async () => {
    const agent = agents[2]!;
    await cloud.publish('clf', '1.0.0', tinyModelBytes(1));
    const dep = await cloud.deploy({ model: 'clf', version: '1.0.0', target: { devices: ['cam-quota'] } });
    await cloud.waitDeployment(dep.id, ['succeeded']);
    await cloud.admin.request('PUT', EDGE_LOOP_PATHS.policy(dep.id), {
      collect: { sample_rate: 1, codecs: ['lossless'] },
    });
    await waitUntil(() => agent.loop.collector.policyOf('clf') !== undefined, 10_000, 'the policy');
    const stored = async () =>
      (await cloud.admin.get<{ items: CollectedItem[] }>(`${EDGE_LOOP_PATHS.items}?model=clf&limit=100`)).items;

    for (let i = 0; i < 4; i++) await predictNoise(agent, i);
    expect((await agent.loop.uplink.uploadNow()).accepted).toBe(4);
    const used = (await stored()).reduce((a, i) => a + i.frame_bytes, 0);
    expect(used).toBeGreaterThan(8000);
    expect(used).toBeLessThan(LIMITS.storedBytesPerDevice);

    for (let i = 4; i < 10; i++) await predictNoise(agent, i);
    const refused = await agent.loop.uplink.uploadNow();
    expect(refused.error).toMatch(/has [\d,]+ bytes of collected items stored, quota 20,000/);
    expect(agent.loop.uplink.totals.throttled).toBe(1);
    expect((await stored()).length).toBe(4); // the batch over the quota was refused whole
    expect(agent.loop.store.counts()).toMatchObject({ items: 10, pending: 6, uploaded: 4 });
    const report = await agent.loop.uplink.uploadNow(); // paused: sends nothing until Retry-After
    expect([report.sent, report.error]).toEqual([0, expect.stringMatching(/the cloud asked to wait until/)]);
  }, 60_000);
});
