/**
 * Joint inference against the real control plane (embedded broker + SQLite): the cloud hosts a
 * model at POST /v1/models/<name>:predict (the agent API's shapes); an agent whose deployment
 * names it offloads uncertain inputs (encoded) and returns the cloud's answer; with the cloud
 * down, or slower than the deadline (a delaying proxy in front of it), the agent returns its own
 * answer, flagged. Every answer says who answered.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeAgent } from '../../src/edge/agent.ts';
import { EDGE_LOOP_PATHS } from '../../src/protocol/index.ts';
import { tinyModelBytes } from '../edge/models.ts';
import { agentOptions, predict, startAgent, TestCloud, waitUntil } from './harness.ts';

/** tinyModelBytes(s) on a constant image v: logit k = 0.784·v·(k+1)·s. */
const logits = (v: number, s: number) => Array.from({ length: 10 }, (_, k) => 0.784 * v * (k + 1) * s);
const HARD = 0.5; // local top-1 ≈ 0.33
const EASY = 5; // local top-1 ≈ 0.98

/** Forwards every request to `target` after `delayMs`. */
async function delayingProxy(target: string, delayMs: number): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      setTimeout(async () => {
        try {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host') headers[k] = v;
          const r = await fetch(`${target}${req.url}`, {
            method: req.method,
            headers,
            body: req.method === 'GET' ? undefined : Buffer.concat(chunks),
          });
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
          res.end(Buffer.from(await r.arrayBuffer()));
        } catch {
          res.destroy();
        }
      }, delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('joint inference over the embedded broker + SQLite', () => {
  let cloud: TestCloud;
  let agent: EdgeAgent;
  let depId = '';

  beforeAll(async () => {
    cloud = await TestCloud.start();
    agent = await startAgent(cloud, 'cam-joint');
    await cloud.publish('small', '1.0.0', tinyModelBytes(1));
    await cloud.publish('big', '2.0.0', tinyModelBytes(3));
    const dep = await cloud.deploy({ model: 'small', version: '1.0.0', target: { devices: ['cam-joint'] } });
    depId = dep.id;
    await cloud.waitDeployment(dep.id, ['succeeded']);
    await cloud.admin.request('PUT', EDGE_LOOP_PATHS.policy(depId), {
      offload: { model: 'big@2.0.0', below: 0.6, deadline_ms: 3000, codec: 'quantize-delta:8' },
      collect: { hard: { top1_below: 0.6 }, upload: false },
    });
    await waitUntil(() => !!agent.loop.collector.policyOf('small')?.policy.offload, 10_000, 'the offload policy');
  }, 60_000);
  afterAll(async () => {
    await agent?.stop().catch(() => undefined);
    await cloud?.close();
  });

  it('the cloud hosts a registry model with the agent API shapes (JSON, for operators and devices)', async () => {
    const body = { inputs: { input: { dims: [1, 1, 28, 28], data: new Array(784).fill(HARD) } } };
    const r = await cloud.admin.post<{ outputs: { output: { data: number[] } }; model: unknown }>(
      '/v1/models/big:predict',
      body,
    );
    expect(r.model).toEqual({ name: 'big', version: '2.0.0', variant: 'fp32' });
    r.outputs.output.data.forEach((v, k) => expect(v).toBeCloseTo(logits(HARD, 3)[k]!, 3));
    await expect(cloud.admin.post('/v1/models/nope:predict', body)).rejects.toThrow(/no model 'nope'/);
    await expect(
      cloud.admin.post('/v1/models/big:predict', { inputs: { input: { dims: [1, 3], data: [1, 2, 3] } } }),
    ).rejects.toThrow(/has shape \[batch, 1, 28, 28\], got \[1, 3\]/);
    await expect(cloud.admin.post('/v1/models/big:explain', body)).rejects.toThrow(/unknown verb/);
  });

  it('cloud up: uncertain inputs are answered by the cloud model, confident ones locally', async () => {
    const hard = await predict(agent, 'small', 1, HARD);
    expect(hard.status).toBe(200);
    expect(hard.body.answered_by).toBe('cloud');
    expect(hard.body.offload).toMatchObject({ outcome: 'ok', model: 'big@2.0.0' });
    // quantize-delta of a constant image is exact, so the cloud's logits are the big model's
    (hard.body.outputs.output.data as number[]).forEach((v, k) => expect(v).toBeCloseTo(logits(HARD, 3)[k]!, 3));
    const easy = await predict(agent, 'small', 1, EASY);
    expect(easy.body.answered_by).toBe('edge');
    expect(easy.body.offload).toBeUndefined();
    (easy.body.outputs.output.data as number[]).forEach((v, k) => expect(v).toBeCloseTo(logits(EASY, 1)[k]!, 3));
    // the offloaded input was collected with the cloud's answer (upload: false keeps it on the device)
    const [item] = agent.loop.store.all('small');
    expect(item).toMatchObject({ reason: 'top1', predicted: 9, cloud_predicted: 9, uploaded_at: null });
  });

  it('a margin rule: inputs whose top two classes are close go to the cloud, whatever their top-1', async () => {
    // tinyModelBytes(1): margin = p9 − p8 ≈ 0.11 at HARD, ≈ 0.96 at EASY; below: 0 = top-1 never offloads
    const policy = { model: 'big@2.0.0', below: 0, margin_below: 0.5, deadline_ms: 3000, codec: 'quantize-delta:8' };
    await cloud.admin.request('PUT', EDGE_LOOP_PATHS.policy(depId), { offload: policy, collect: { upload: false } });
    await waitUntil(
      () => agent.loop.collector.policyOf('small')?.policy.offload?.margin_below === 0.5,
      10_000,
      'the margin policy',
    );
    expect((await predict(agent, 'small', 1, HARD)).body.answered_by).toBe('cloud');
    expect((await predict(agent, 'small', 1, EASY)).body.answered_by).toBe('edge');
    await cloud.admin.request('PUT', EDGE_LOOP_PATHS.policy(depId), {
      offload: { ...policy, below: 0, margin_below: 0.05 },
      collect: { upload: false },
    });
    await waitUntil(
      () => agent.loop.collector.policyOf('small')?.policy.offload?.margin_below === 0.05,
      10_000,
      'a margin below every input',
    );
    expect((await predict(agent, 'small', 1, HARD)).body.answered_by).toBe('edge');
    // back to the top-1 policy of the other cases
    await cloud.admin.request('PUT', EDGE_LOOP_PATHS.policy(depId), {
      offload: { model: 'big@2.0.0', below: 0.6, deadline_ms: 3000, codec: 'quantize-delta:8' },
      collect: { hard: { top1_below: 0.6 }, upload: false },
    });
    await waitUntil(
      () => agent.loop.collector.policyOf('small')?.policy.offload?.margin_below === undefined,
      10_000,
      'the top-1 policy again',
    );
  });

  it('cloud slower than the deadline: the local answer, flagged timeout', async () => {
    const proxy = await delayingProxy(cloud.url, 1500);
    const dataDir = agent.store.dataDir;
    await agent.stop();
    agent = await EdgeAgent.start(agentOptions(dataDir, { cloudUrl: proxy.url }));
    try {
      await cloud.admin.request('PUT', EDGE_LOOP_PATHS.policy(depId), {
        offload: { model: 'big@2.0.0', below: 0.6, deadline_ms: 300 },
      });
      await waitUntil(
        () => agent.loop.collector.policyOf('small')?.policy.offload?.deadline_ms === 300,
        10_000,
        'the shorter deadline',
      );
      const r = await predict(agent, 'small', 1, HARD);
      expect(r.status).toBe(200);
      expect(r.body.answered_by).toBe('edge');
      expect(r.body.offload).toMatchObject({ outcome: 'timeout', model: 'big@2.0.0' });
      (r.body.outputs.output.data as number[]).forEach((v, k) => expect(v).toBeCloseTo(logits(HARD, 1)[k]!, 3));
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it('cloud down: the local answer, flagged unreachable; the agent keeps serving', async () => {
    await cloud.down();
    const r = await predict(agent, 'small', 1, HARD);
    expect(r.status).toBe(200);
    expect(r.body.answered_by).toBe('edge');
    expect(r.body.offload.outcome).toBe('unreachable');
    expect(agent.loop.offloadCounters).toMatchObject({ unreachable: 1, timeout: 1 });
    await cloud.up();
  }, 60_000);
});
