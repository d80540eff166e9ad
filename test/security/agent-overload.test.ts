/**
 * Finding 4 (medium): the agent's predict API had no batch cap and no concurrency limit — a
 * 21,000-sample batch took 37 s and 2-3 GB and froze every other request — and (finding 9) a
 * client trickling its request body was never cut off. Attacked here on the real agent HTTP server
 * (a socket, onnxruntime serving the seed CNN fixture).
 */
import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InferenceStats } from '../../src/edge/inference-stats.ts';
import { buildLocalApi, type PredictLimits } from '../../src/edge/local-api.ts';
import { ServedModels, loadModelBytes } from '../../src/edge/served-models.ts';
import { seedCnnBytes, sha256 } from '../edge/models.ts';

const SAMPLE = [1, 28, 28]; // the seed CNN takes [N, 1, 28, 28]
const FEATURES = 28 * 28;
const served = new ServedModels();
beforeAll(async () => {
  const bytes = seedCnnBytes();
  served.swap(
    await loadModelBytes({ name: 'seed', version: '1.0.0', variant: 'fp32', sha256: sha256(bytes) }, bytes, {
      threads: 1,
    }),
  );
});
afterAll(() => served.close());

const apis: FastifyInstance[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const a of apis.splice(0)) await a.close();
});

async function startApi(limits: Partial<PredictLimits> = {}): Promise<{ host: string; port: number; url: string }> {
  const api = buildLocalApi({ served, stats: new InferenceStats(), limits });
  apis.push(api);
  await api.listen({ port: 0, host: '127.0.0.1' });
  const port = (api.server.address() as { port: number }).port;
  return { host: '127.0.0.1', port, url: `http://127.0.0.1:${port}` };
}

function batch(n: number): Buffer {
  const x = new Float32Array(n * FEATURES).fill(0.5);
  return Buffer.from(x.buffer);
}

function predict(url: string, n: number): Promise<Response> {
  return fetch(`${url}/v1/models/seed:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'x-verge-dims': `${n},${SAMPLE.join(',')}` },
    body: batch(n),
  });
}

/** A predict request whose headers arrive but whose body stops after `sent` of its bytes. */
function slowRequest(
  a: { host: string; port: number },
  n = 1,
  sent = 4,
): { socket: Socket; finish(): void; answer: Promise<string> } {
  const body = batch(n);
  const socket = connect(a.port, a.host);
  sockets.push(socket);
  let answer = '';
  const done = new Promise<string>((resolve) => {
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('close', () => resolve(answer));
    socket.on('error', () => undefined);
  });
  socket.write(
    `POST /v1/models/seed:predict HTTP/1.1\r\nhost: ${a.host}\r\ncontent-type: application/octet-stream\r\n` +
      `x-verge-dims: ${n},${SAMPLE.join(',')}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`,
  );
  socket.write(body.subarray(0, sent));
  return { socket, finish: () => socket.write(body.subarray(sent)), answer: done };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('agent predict API under attack', () => {
  it('refuses a 21,000-sample batch (66 MB) with 413 before it reaches onnxruntime', async () => {
    const a = await startApi();
    const res = await predict(a.url, 21_000);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('E_TOO_LARGE');
    expect((await predict(a.url, 8)).status).toBe(200);
  });

  it('answers 429 with Retry-After at once when every slot and queue place is taken', async () => {
    const a = await startApi({ concurrency: 1, queue: 1 });
    const first = slowRequest(a); // holds the one slot, its body still arriving
    const second = slowRequest(a); // waits in the queue
    await settle(300);
    const res = await predict(a.url, 2);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('E_OVERLOADED');
    // the admitted requests are served once their bodies arrive, and the agent recovers
    first.finish();
    second.finish();
    expect(await first.answer).toMatch(/^HTTP\/1\.1 200/);
    expect(await second.answer).toMatch(/^HTTP\/1\.1 200/);
    expect((await predict(a.url, 2)).status).toBe(200);
  });

  it('answers 503 E_TIMEOUT when a request cannot be served within its deadline', async () => {
    const a = await startApi({ concurrency: 1, queue: 8, timeoutMs: 500 });
    slowRequest(a);
    await settle(200);
    const res = await predict(a.url, 2);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('E_TIMEOUT');
  });

  it('cuts off a client that trickles its request body', async () => {
    const a = await startApi({ receiveTimeoutMs: 1000 });
    const slow = slowRequest(a);
    const closed = await Promise.race([slow.answer.then(() => true), settle(10_000).then(() => false)]);
    expect(closed).toBe(true);
  }, 20_000);
});
