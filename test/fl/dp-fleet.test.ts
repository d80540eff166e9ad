/**
 * DP-FedAvg over the fleet, against a real control plane: the test plays three devices and sends
 * updates far larger than the clip; the new global model must move by the clipped mean plus
 * Gaussian noise of standard deviation z·C/m, and the job must report the (ε, δ) of the RDP
 * accountant for its rounds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelLayout, weightsOf } from '../../src/fl/model-weights.ts';
import { RdpAccountant } from '../../src/fl/privacy/rdp.ts';
import { decodeModel, encodeModel } from '../../src/onnx/codec.ts';
import { FL_PATHS, HTTP_PATHS, type FlJob } from '../../src/protocol/index.ts';
import { TestCloud, waitUntil } from '../e2e/harness.ts';
import { fp32Update, handDevices, signedPost, type HandDevice } from './devices.ts';
import { blobModel } from './helpers.ts';

const model = blobModel(3);
const layout = modelLayout(model);
const CLIP = 0.5;
const Z = 1.0;

async function readArtifact(cloud: TestCloud, sha: string): Promise<Uint8Array> {
  const res = await fetch(`${cloud.url}${HTTP_PATHS.artifact(sha)}`, {
    headers: { authorization: `Bearer ${cloud.cp.adminKey}` },
  });
  expect(res.status).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

describe('DP-FedAvg over the fleet (embedded broker + SQLite)', () => {
  let cloud: TestCloud;
  let devices: HandDevice[];

  beforeAll(async () => {
    cloud = await TestCloud.start();
    await cloud.publish('blobnet', '1.0.0', encodeModel(model));
    devices = await handDevices(cloud, ['dp-a', 'dp-b', 'dp-c']);
  }, 300_000); // a control plane and three agents start slowly on a loaded 2-core box
  afterAll(async () => {
    for (const d of devices ?? []) await d.agent.stop().catch(() => undefined);
    await cloud?.close();
  });

  it('clips, adds noise of std z·C/m to the mean, and reports (ε, δ) per job', async () => {
    const refused = await cloud.admin
      .post(FL_PATHS.jobs, {
        model: { name: 'blobnet', version: '1.0.0' },
        target: { devices: devices.map((d) => d.id) },
        rounds: 1,
        strategy: 'median',
        dp: { clip: CLIP, noise_multiplier: Z },
      })
      .catch((e: Error) => e.message);
    expect(refused).toMatch(/DP needs a mean-based strategy; 'median'/);

    const job = await cloud.admin.post<FlJob>(FL_PATHS.jobs, {
      model: { name: 'blobnet', version: '1.0.0' },
      target: { devices: devices.map((d) => d.id) },
      rounds: 1,
      min_fit_clients: 3,
      round_timeout_s: 120, // generous: the round closes as soon as the three uploads are in
      dp: { clip: CLIP, noise_multiplier: Z },
    });
    expect(job.privacy).toMatchObject({ epsilon: 0, delta: 1e-5, clip: CLIP, noise_multiplier: Z });
    await waitUntil(
      async () => (await cloud.cp.repos.fl.participants(job.id, 1)).length === 3,
      60_000,
      'round 1 to open',
    );
    const global0 = weightsOf(model, layout);
    // every device sends a constant update of L2 norm 10·√n ≫ C: the server clips it to C
    for (const d of devices) {
      const token = (await cloud.cp.repos.fl.participant(job.id, 1, d.id))!.token;
      const r = await signedPost(cloud, d, {
        job: job.id,
        round: 1,
        token,
        path: FL_PATHS.update(job.id, 1),
        body: fp32Update(new Float32Array(layout.size).fill(10)),
      });
      expect(r.status).toBe(200);
    }
    await waitUntil(
      async () => (await cloud.admin.get<FlJob>(FL_PATHS.job(job.id))).rounds_completed === 1,
      60_000,
      'round 1 to aggregate',
    );
    const sha = (await cloud.cp.repos.fl.getJob(job.id))!.global_sha256;
    const global1 = weightsOf(decodeModel(await readArtifact(cloud, sha)), layout);
    const n = layout.size;
    const delta = Array.from(global1, (w, i) => w - global0[i]!);
    const mean = delta.reduce((a, b) => a + b, 0) / n;
    const std = Math.sqrt(delta.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
    const clipped = CLIP / Math.sqrt(n); // each coordinate of the clipped constant update
    const noiseStd = (Z * CLIP) / 3;
    expect(Math.abs(mean - clipped)).toBeLessThan((5 * noiseStd) / Math.sqrt(n));
    expect(std / noiseStd).toBeGreaterThan(0.75);
    expect(std / noiseStd).toBeLessThan(1.25);

    const acc = new RdpAccountant();
    acc.step(1, Z); // q = 3 of a population of 3
    const j = await cloud.admin.get<FlJob>(FL_PATHS.job(job.id));
    expect(j.privacy!.epsilon).toBeCloseTo(acc.epsilon(1e-5).epsilon, 9);
    expect(j.privacy!.epsilon).toBeGreaterThan(0);
  }, 300_000);
});
