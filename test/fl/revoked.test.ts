/**
 * A device whose credential is revoked leaves the federated job at once, on a real control plane
 * with three real in-process agents over MQTT + HTTP (embedded broker + SQLite, and Mosquitto +
 * PostgreSQL when present). Device x takes part in a first job (so its upload key is registered),
 * then is selected in round 1 of a second job; while it reads its local data (the test holds that
 * read back) the operator revokes it. Its agent then trains and uploads as usual, and the upload is
 * refused for the revocation; the round does not wait for it until its deadline; the next training
 * round and the final evaluation do not select it; the job completes with the two others.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset.ts';
import type { EdgeAgent } from '../../src/edge/agent.ts';
import { encodeModel } from '../../src/onnx/codec.ts';
import { FL_PATHS, HTTP_PATHS, type FlJob } from '../../src/protocol/index.ts';
import { startAgent, TestCloud, waitUntil, type CloudOptions } from '../e2e/harness.ts';
import { closeFleet, deviceShards, FLEET_BACKENDS, waitJob, waitOnline } from './fleet-support.ts';
import { blobDataset, blobModel } from './helpers.ts';

const shards = deviceShards(blobDataset(600, 300), 3, 7);
const ENDED: FlJob['state'][] = ['completed', 'failed'];

for (const backend of FLEET_BACKENDS) {
  describe(`a revoked device is excluded from a federated job (${backend.name})`, () => {
    let cloud: TestCloud | undefined;
    let opts: CloudOptions | null = null;
    const agents: EdgeAgent[] = [];
    // device x's local data: the first job reads it at once; the second job's read waits for `release`
    let reads = 0;
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const xData = async (): Promise<Dataset> => {
      if (++reads > 1) await held;
      return shards[2]!;
    };

    beforeAll(async () => {
      opts = await backend.opts();
      if (!opts) return;
      cloud = await TestCloud.start(opts);
      await cloud.publish('blobnet', '1.0.0', encodeModel(blobModel(3)));
      agents.push(await startAgent(cloud, 'rv-a', { localData: async () => shards[0]! }));
      agents.push(await startAgent(cloud, 'rv-b', { localData: async () => shards[1]! }));
      agents.push(await startAgent(cloud, 'rv-x', { localData: xData }));
      await waitOnline(cloud, 3, 60_000);
    }, 300_000); // a control plane and three agents start slowly on a loaded 2-core box

    afterAll(async () => {
      release();
      await closeFleet(agents, cloud, [], opts);
    });

    const selected = async (job: string, round: number) =>
      (await cloud!.cp.repos.fl.participants(job, round)).map((p) => p.device_id).sort();

    it('refuses its upload, does not hold the round for it, never selects it again', async (ctx) => {
      if (!cloud) return ctx.skip();
      const [a, b, x] = agents as [EdgeAgent, EdgeAgent, EdgeAgent];
      const all = agents.map((d) => d.deviceId);
      const job = (rounds: number, version: string) =>
        cloud!.admin.post<FlJob>(FL_PATHS.jobs, {
          model: { name: 'blobnet', version: '1.0.0' },
          target: { devices: all },
          rounds,
          min_fit_clients: 2,
          // far beyond the test's own timeouts: a round that waited for the revoked device would fail the test
          round_timeout_s: 3600,
          local_epochs: 2,
          batch_size: 16,
          lr: 0.1,
          publish: { name: 'blobnet', version },
        });

      // first job: x takes part like the others (and registers its upload key)
      const first = await waitJob(cloud!, (await job(1, '1.1.0')).id, ENDED, 180_000);
      expect(first.state).toBe('completed');
      expect(first.history[0]).toMatchObject({ task: 'fit', selected: 3, accepted: 3 });

      // second job: round 1 selects all three; a and b upload, x is reading its data
      const second = await job(2, '1.2.0');
      await waitUntil(
        async () =>
          reads === 2 &&
          (await cloud!.cp.repos.fl.participants(second.id, 1)).filter((p) => p.state === 'accepted').length === 2,
        120_000,
        "round 1's uploads from a and b while x reads its data",
      );
      expect(await selected(second.id, 1)).toEqual([...all].sort());
      await cloud.admin.post(HTTP_PATHS.revokeDevice(x.deviceId), {});
      // the agent hears it (the 'revoked' command) or, if the control plane dropped it first, its broker login is refused
      await waitUntil(() => ['revoked', 'refused'].includes(x.state), 60_000, "x's agent to lose the fleet");
      release();

      // x's agent trains and uploads its round-1 update: the control plane refuses the revoked credential
      await waitUntil(
        () => x.fl!.outcomes.some((o) => o.job === second.id && o.round === 1 && o.result === 'failed'),
        120_000,
        "x's round-1 upload to be answered",
      );
      const outcome = x.fl!.outcomes.find((o) => o.job === second.id && o.round === 1)!;
      expect(outcome.reason).toMatch(new RegExp(`upload refused \\(403\\): device ${x.deviceId} is revoked`));

      const done = await waitJob(cloud!, second.id, ENDED, 180_000);
      expect(done.error).toBeNull();
      expect(done.state).toBe('completed');
      // round 1 closed with a and b, long before its deadline; x counts as missing
      expect(done.history[0]).toMatchObject({ round: 1, task: 'fit', state: 'closed', selected: 3, accepted: 2 });
      expect(done.history[0]!.missing).toBe(1);
      expect(done.history[0]!.closed_at!).toBeLessThan(done.history[0]!.deadline);
      // round 2 and the final evaluation selected only a and b
      const others = [a.deviceId, b.deviceId].sort();
      expect(await selected(second.id, 2)).toEqual(others);
      expect(await selected(second.id, 3)).toEqual(others);
      expect(done.history.slice(1).map((h) => [h.task, h.selected, h.accepted])).toEqual([
        ['fit', 2, 2],
        ['evaluate', 2, 2],
      ]);
      const p1 = await cloud.cp.repos.fl.participant(second.id, 1, x.deviceId);
      expect(p1?.state).toBe('missing');
    }, 600_000);
  });
}
