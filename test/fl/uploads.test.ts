/**
 * Attacks and bad input on FL uploads, against a real control plane over HTTP: each case is
 * performed and must be refused with one clear error while the round goes on and the global model
 * is untouched. The test plays the devices (two enrolled agents without local data, so they take
 * no tasks themselves); the round's token is the one the device received in its task.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EdgeAgent } from '../../src/edge/agent.ts';
import { deviceAuthHeader } from '../../src/edge/enrollment.ts';
import { modelLayout } from '../../src/fl/model-weights.ts';
import { encodeModel } from '../../src/onnx/codec.ts';
import {
  encodeUpdate,
  FL_HEADERS,
  FL_PATHS,
  flUploadSignaturePayload,
  HTTP_PATHS,
  type FlJob,
} from '../../src/protocol/index.ts';
import { startAgent, TestCloud, waitUntil } from '../e2e/harness.ts';
import { blobModel } from './helpers.ts';

const model = blobModel(2);
const size = modelLayout(model).size;

describe('FL uploads refuse bad input and attacks (embedded broker + SQLite)', () => {
  let cloud: TestCloud;
  let devices: EdgeAgent[] = [];
  const keys = new Map<string, KeyObject>();
  let job: FlJob;

  const token = async (device: EdgeAgent, round = 1) =>
    (await cloud.cp.repos.fl.participant(job.id, round, device.deviceId))?.token ?? 'none-none-none-none';
  async function upload(
    device: EdgeAgent,
    body: Uint8Array,
    o: { round?: number; jobId?: string; signRound?: number; token?: string; key?: KeyObject } = {},
  ) {
    const round = o.round ?? 1;
    const jobId = o.jobId ?? job.id;
    const tok = o.token ?? (await token(device, round));
    const metrics = '{"loss":1}';
    const payload = flUploadSignaturePayload({
      job: jobId,
      round: o.signRound ?? round,
      device: device.deviceId,
      token: tok,
      bodySha256: createHash('sha256').update(body).digest('hex'),
      examples: 10,
      metricsJson: metrics,
    });
    const res = await fetch(cloud.url + FL_PATHS.update(jobId, round), {
      method: 'POST',
      headers: {
        authorization: deviceAuthHeader(device.deviceId, device.identity.password),
        'content-type': 'application/octet-stream',
        [FL_HEADERS.token]: tok,
        [FL_HEADERS.examples]: '10',
        [FL_HEADERS.metrics]: metrics,
        [FL_HEADERS.signature]: sign(null, payload, o.key ?? keys.get(device.deviceId)!).toString('base64'),
      },
      body,
    });
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
  }
  const update = (values: Float32Array) => encodeUpdate({ codec: 'fp32', length: values.length, values });

  beforeAll(async () => {
    cloud = await TestCloud.start();
    await cloud.publish('blobnet', '1.0.0', encodeModel(model));
    devices = [await startAgent(cloud, 'dev-a'), await startAgent(cloud, 'dev-b'), await startAgent(cloud, 'dev-c')];
    for (const d of devices) {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      keys.set(d.deviceId, privateKey);
      const res = await fetch(cloud.url + FL_PATHS.deviceKey, {
        method: 'PUT',
        headers: {
          authorization: deviceAuthHeader(d.deviceId, d.identity.password),
          'content-type': 'application/json',
        },
        body: JSON.stringify({ public_key_pem: publicKey.export({ type: 'spki', format: 'pem' }) }),
      });
      expect(res.status).toBe(200);
    }
    await waitUntil(
      async () =>
        (await cloud.admin.get<{ devices: { status: string }[] }>(HTTP_PATHS.devices)).devices.every(
          (d) => d.status === 'online',
        ),
      60_000,
      'devices online',
    );
    job = await cloud.admin.post<FlJob>(FL_PATHS.jobs, {
      model: { name: 'blobnet', version: '1.0.0' },
      target: { devices: [devices[0]!.deviceId, devices[1]!.deviceId] },
      rounds: 2,
      min_fit_clients: 2,
      // round 2 waits the whole deadline for the silent device (idle CI time); the test's few requests
      // must land before it: 25 s stays generous on a loaded box
      round_timeout_s: 25,
    });
    await waitUntil(
      async () => (await cloud.cp.repos.fl.participants(job.id, 1)).length === 2,
      60_000,
      'round 1 to open',
    );
  }, 300_000); // a control plane and three agents start slowly on a loaded 2-core box

  afterAll(async () => {
    for (const d of devices) await d.stop().catch(() => undefined);
    await cloud.close();
  });

  it('refuses each bad upload with one clear error; the round goes on with the good ones', async () => {
    const [a, b, c] = devices as [EdgeAgent, EdgeAgent, EdgeAgent];
    const global0 = (await cloud.cp.repos.fl.getJob(job.id))!.global_sha256;

    expect(await upload(a, update(new Float32Array(size)), { jobId: 'fl-nosuchjob' })).toMatchObject({
      status: 404,
      body: { error: { code: 'E_NOT_FOUND', message: "no FL job 'fl-nosuchjob'" } },
    });
    expect(await upload(c, update(new Float32Array(size)))).toMatchObject({
      status: 403,
      body: { error: { code: 'E_AUTH' } },
    }); // not selected
    const forged = generateKeyPairSync('ed25519').privateKey;
    expect(await upload(a, update(new Float32Array(size)), { key: forged })).toMatchObject({
      status: 401,
      body: { error: { code: 'E_SIGNATURE' } },
    });
    expect(await upload(a, update(new Float32Array(size)), { token: 'x'.repeat(24) })).toMatchObject({ status: 401 }); // another round's token

    const nan = new Float32Array(size);
    nan[3] = NaN;
    const r1 = await upload(a, update(nan));
    expect(r1).toMatchObject({
      status: 400,
      body: { error: { code: 'E_BAD_ARGUMENT', message: 'update refused: update value 3 is NaN (not finite)' } },
    });
    // a rejected update is that device's answer for the round: a second try is a duplicate
    expect(await upload(a, update(new Float32Array(size)))).toMatchObject({
      status: 409,
      body: { error: { code: 'E_CONFLICT' } },
    });

    const r2 = await upload(b, update(new Float32Array(size + 1)));
    expect(r2).toMatchObject({
      status: 400,
      body: { error: { message: `update refused: FL update has ${size + 1} values; the model has ${size}` } },
    });

    // nothing valid arrived: the round closes at its deadline as failed and the global model is unchanged
    await waitUntil(
      async () => (await cloud.admin.get<FlJob>(FL_PATHS.job(job.id))).history[0]?.state === 'failed',
      60_000,
      'round 1 to fail',
    );
    const j = await cloud.admin.get<FlJob>(FL_PATHS.job(job.id));
    expect(j.history[0]).toMatchObject({ accepted: 0, rejected: 2, missing: 0 });
    expect((await cloud.cp.repos.fl.getJob(job.id))!.global_sha256).toBe(global0);

    // round 2 (the retry) opens; a good update goes in, and replaying it is refused
    await waitUntil(
      async () => (await cloud.cp.repos.fl.participants(job.id, 2)).length === 2,
      60_000,
      'round 2 to open',
    );
    const good = update(new Float32Array(size).fill(0.001));
    expect(await upload(a, good, { round: 2 })).toMatchObject({ status: 200, body: { accepted: true } });
    expect(await upload(a, good, { round: 2 })).toMatchObject({
      status: 409,
      body: { error: { message: expect.stringMatching(/duplicate upload/) } },
    });
    // a round-1 signature replayed into round 2 does not verify
    expect(await upload(b, good, { round: 2, signRound: 1 })).toMatchObject({
      status: 401,
      body: { error: { code: 'E_SIGNATURE' } },
    });

    // b stays silent: the round closes at its deadline, b's later upload is late and counted
    await waitUntil(
      async () => (await cloud.admin.get<FlJob>(FL_PATHS.job(job.id))).history[1]?.state !== 'open',
      120_000,
      'round 2 to close',
    );
    expect(await upload(b, good, { round: 2 })).toMatchObject({
      status: 409,
      body: { error: { message: expect.stringMatching(/late update discarded/) } },
    });
    const after = await cloud.admin.get<FlJob>(FL_PATHS.job(job.id));
    expect(after.history[1]).toMatchObject({ accepted: 1, late: 1 });
  }, 300_000);
});
