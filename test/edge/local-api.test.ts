import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceStats } from '../../src/edge/inference-stats.ts';
import { buildLocalApi } from '../../src/edge/local-api.ts';
import { ServedModels, loadModelBytes } from '../../src/edge/served-models.ts';
import { fixturePath, readNpy } from '../fixtures/index.ts';
import { failingModelBytes, seedCnnBytes, sha256, tinyModelBytes } from './models.ts';

const served = new ServedModels();
const stats = new InferenceStats();
// a queue for the 80 concurrent requests of the swap test (the default sheds load past 32 waiting)
const api = buildLocalApi({ served, stats, limits: { queue: 100 } });
const input = readNpy(fixturePath('seed_cnn.input.npy'));
const expected = readNpy(fixturePath('seed_cnn.output.npy'));

async function load(name: string, version: string, bytes: Uint8Array, variant = 'fp32') {
  return loadModelBytes({ name, version, variant, sha256: sha256(bytes) }, bytes, { threads: 1 });
}

beforeAll(async () => {
  served.swap(await load('seed', '1.0.0', seedCnnBytes()));
});
afterAll(async () => {
  await api.close();
  await served.close();
});

describe('local inference API', () => {
  it('answers JSON predict with the PyTorch output of the fixture', async () => {
    const res = await api.inject({
      method: 'POST',
      url: '/v1/models/seed:predict',
      payload: { inputs: { input: { dims: input.shape, data: Array.from(input.data as Float32Array) } } },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.model).toEqual({ name: 'seed', version: '1.0.0', variant: 'fp32' });
    expect(body.outputs.output.dims).toEqual(expected.shape);
    const want = expected.data as Float32Array;
    body.outputs.output.data.forEach((v: number, i: number) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-4));
  });

  it('answers the binary form with the same values as JSON', async () => {
    const x = input.data as Float32Array;
    const res = await api.inject({
      method: 'POST',
      url: '/v1/models/seed:predict',
      headers: {
        'content-type': 'application/octet-stream',
        accept: 'application/octet-stream',
        'x-verge-dims': input.shape.join(','),
      },
      payload: Buffer.from(x.buffer, x.byteOffset, x.byteLength),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-verge-dims']).toBe('2,10');
    expect(res.headers['x-verge-model']).toBe('seed@1.0.0#fp32');
    const raw = res.rawPayload;
    const got = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const want = expected.data as Float32Array;
    got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-4));
  });

  it('refuses bad requests with a code and does not count them against the model', async () => {
    const wrongShape = await api.inject({
      method: 'POST',
      url: '/v1/models/seed:predict',
      payload: { inputs: { input: { dims: [1, 1, 27, 28], data: new Array(756).fill(0) } } },
    });
    expect(wrongShape.statusCode).toBe(400);
    expect(wrongShape.json().error.code).toBe('E_SHAPE_MISMATCH');
    const shortData = await api.inject({
      method: 'POST',
      url: '/v1/models/seed:predict',
      payload: { inputs: { input: { dims: [1, 1, 28, 28], data: [1, 2] } } },
    });
    expect(shortData.json().error.code).toBe('E_SHAPE_MISMATCH');
    const missing = await api.inject({ method: 'POST', url: '/v1/models/seed:predict', payload: { inputs: {} } });
    expect(missing.json().error.code).toBe('E_INPUT_MISSING');
    const unknown = await api.inject({ method: 'POST', url: '/v1/models/nope:predict', payload: { inputs: {} } });
    expect(unknown.statusCode).toBe(404);
    const verb = await api.inject({ method: 'POST', url: '/v1/models/seed:explain', payload: { inputs: {} } });
    expect(verb.statusCode).toBe(404);
    const badBinary = await api.inject({
      method: 'POST',
      url: '/v1/models/seed:predict',
      headers: { 'content-type': 'application/octet-stream', 'x-verge-dims': '1,1,28,28' },
      payload: Buffer.alloc(12),
    });
    expect(badBinary.json().error.code).toBe('E_SHAPE_MISMATCH');
    const windows = stats.takeWindows();
    expect(windows.every((w) => w.errors === 0)).toBe(true);
  });

  it("answers an unsupported media type, invalid JSON and GET / in verge's error shape", async () => {
    const media = await api.inject({
      method: 'POST',
      url: '/v1/models/seed:predict',
      headers: { 'content-type': 'text/csv' },
      payload: '1,2,3',
    });
    expect(media.statusCode).toBeGreaterThanOrEqual(400);
    expect(media.statusCode).toBeLessThan(500);
    expect(Object.keys(media.json())).toEqual(['error']);
    expect(Object.keys(media.json().error).sort()).toEqual(['code', 'message']);
    expect(media.json().error.code).toMatch(/^E_[A-Z_]+$/);
    const broken = await api.inject({
      method: 'POST',
      url: '/v1/models/seed:predict',
      headers: { 'content-type': 'application/json' },
      payload: '{"inputs": ',
    });
    expect(broken.statusCode).toBe(400);
    expect(Object.keys(broken.json())).toEqual(['error']);
    expect(Object.keys(broken.json().error).sort()).toEqual(['code', 'message']);
    expect(broken.json().error.code).toMatch(/^E_[A-Z_]+$/);
    const root = await api.inject({ method: 'GET', url: '/' });
    expect(root.statusCode).not.toBe(404); // points to the API
    expect(root.body).toMatch(/\/v1\/models/);
  });

  it('lists models and exposes Prometheus metrics', async () => {
    const list = (await api.inject({ method: 'GET', url: '/v1/models' })).json();
    expect(list.models).toHaveLength(1);
    expect(list.models[0]).toMatchObject({ name: 'seed', version: '1.0.0', variant: 'fp32' });
    expect(list.models[0].inputs[0]).toEqual({ name: 'input', dtype: 'float32', shape: ['batch', 1, 28, 28] });
    const metrics = await api.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/verge_agent_predictions_total\{[^}]*model="seed"[^}]*status="ok"[^}]*\} 2$/m);
  });

  it('counts run-time failures of a bad model as errors in its health window', async () => {
    served.swap(await load('bad', '0.0.1', failingModelBytes()));
    const res = await api.inject({
      method: 'POST',
      url: '/v1/models/bad:predict',
      payload: { inputs: { input: { dims: [1, 1, 28, 28], data: new Array(784).fill(0.5) } } },
    });
    expect(res.statusCode).toBe(500);
    const w = stats.takeWindows().find((x) => x.model.name === 'bad')!;
    expect(w.inferences).toBe(1);
    expect(w.errors).toBe(1);
    served.remove('bad');
  });
});

describe('atomic model swap', () => {
  it('keeps the old session alive for a request in flight, then releases it', async () => {
    const v1 = await load('swap', '1.0.0', tinyModelBytes(1));
    served.swap(v1);
    const lease = served.lease('swap');
    served.swap(await load('swap', '2.0.0', tinyModelBytes(2)));
    expect(served.get('swap')!.version).toBe('2.0.0');
    expect(served.retiringCount).toBe(1);
    // The in-flight request still runs on v1's session (a released session would throw).
    const out = await lease.run({
      input: { dtype: 'float32', dims: [1, 1, 28, 28], data: new Float32Array(784).fill(1) },
    });
    expect(lease.model.version).toBe('1.0.0');
    expect((out.output!.data as Float32Array)[0]).toBeCloseTo(784 * 1e-3, 3);
    lease.release();
    await served.drained();
    expect(served.retiringCount).toBe(0);
  });

  it('serves every one of many concurrent requests across a swap', async () => {
    const body = { inputs: { input: { dims: [1, 1, 28, 28], data: new Array(784).fill(1) } } };
    const requests = Array.from({ length: 40 }, () =>
      api.inject({ method: 'POST', url: '/v1/models/swap:predict', payload: body }),
    );
    served.swap(await load('swap', '3.0.0', tinyModelBytes(3)));
    const more = Array.from({ length: 40 }, () =>
      api.inject({ method: 'POST', url: '/v1/models/swap:predict', payload: body }),
    );
    const all = await Promise.all([...requests, ...more]);
    expect(all.map((r) => r.statusCode)).toEqual(new Array(80).fill(200));
    const versions = new Set(all.map((r) => r.json().model.version));
    expect(versions.has('3.0.0')).toBe(true);
    for (const r of all) {
      const { model, outputs } = r.json();
      const scale = Number(model.version[0]);
      expect(outputs.output.data[0]).toBeCloseTo(784 * scale * 1e-3, 3); // each answer is from the session it names
    }
    await served.drained();
    expect(served.retiringCount).toBe(0);
  });
});
