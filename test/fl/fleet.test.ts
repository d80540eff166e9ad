/**
 * Federated learning over a real fleet: a control plane (embedded aedes + SQLite, and Mosquitto +
 * PostgreSQL when present) and in-process agents holding disjoint shards of a small dataset, over
 * real MQTT and HTTP. One agent stops when its first task arrives: the round closes at its
 * deadline with the others. Then the control plane restarts (the job resumes from the database)
 * and the stopped agent restarts on its data dir (it rejoins the next round, which waits for it:
 * min_available_clients 3). The job completes,
 * the model is published with its lineage, passes the ONNX checker and rolls out as a canary.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset.ts';
import { EdgeAgent } from '../../src/edge/agent.ts';
import { encodeModel } from '../../src/onnx/codec.ts';
import { FL_PATHS, HTTP_PATHS, type FlJob, type ModelsResponse } from '../../src/protocol/index.ts';
import { closeFleet, deviceShards, FLEET_BACKENDS, waitJob, waitOnline } from './fleet-support.ts';
import { agentOptions, TestCloud, waitUntil, type CloudOptions } from '../e2e/harness.ts';
import { checkOnnxFiles } from '../fixtures/onnx-checker.ts';
import { blobDataset, blobModel } from './helpers.ts';

const data = blobDataset(600, 300);
const shards = deviceShards(data, 3, 5);
const shard = (k: number): Dataset => shards[k]!;

for (const backend of FLEET_BACKENDS) {
  describe(`federated job over the fleet (${backend.name})`, () => {
    let cloud: TestCloud | undefined;
    const agents: EdgeAgent[] = [];
    const dirs: string[] = [];
    let opts: CloudOptions | null = null;
    const start = async (k: number, crashOnTask: boolean, enroll = true): Promise<EdgeAgent> => {
      const agent: EdgeAgent = await EdgeAgent.start(
        agentOptions(dirs[k]!, {
          cloudUrl: cloud!.url,
          // a restart on the same data dir needs no token (and no reachable cloud)
          ...(enroll ? { enrollToken: await cloud!.token() } : {}),
          name: `fl-${k}`,
          localData: async () => {
            if (!crashOnTask) return shard(k);
            void agent.stop(); // this device leaves when its first FL task arrives, mid-round
            return new Promise<Dataset>(() => undefined);
          },
        }),
      );
      agents[k] = agent;
      return agent;
    };

    beforeAll(async () => {
      opts = await backend.opts();
      if (!opts) return;
      cloud = await TestCloud.start(opts);
      await cloud.publish('blobnet', '1.0.0', encodeModel(blobModel(1)));
      for (let k = 0; k < 3; k++) {
        dirs.push(mkdtempSync(join(tmpdir(), `verge-fl-agent-${k}-`)));
        await start(k, k === 2);
      }
      await waitOnline(cloud!, 3, 20_000);
    });

    afterAll(async () => {
      await closeFleet(agents, cloud, dirs, opts);
    });

    it('runs rounds past a dropped client, resumes after a control-plane restart, lets the restarted agent rejoin, publishes with lineage', async (ctx) => {
      if (!cloud) return ctx.skip();
      const job = await cloud.admin.post<FlJob>(FL_PATHS.jobs, {
        model: { name: 'blobnet', version: '1.0.0' },
        target: { devices: agents.map((a) => a.deviceId) },
        rounds: 3,
        strategy: 'fedavg',
        min_fit_clients: 2,
        // rounds wait (≤ round_timeout_s) for all three devices: round 2 waits for the restarted agent
        // instead of racing its reconnect after the control plane's restart
        min_available_clients: 3,
        // round 1 waits this long for the dropped device (idle CI time); the other rounds took 2.4–4.5 s
        // with all three devices at load ~12, so 30 s stays generous for agents training on a loaded box
        round_timeout_s: 30,
        local_epochs: 2,
        batch_size: 16,
        lr: 0.1,
        compress: 'int8',
      });
      expect(job.state).toBe('running');
      await waitUntil(
        async () => (await cloud!.admin.get<FlJob>(FL_PATHS.job(job.id))).rounds_completed >= 1,
        120_000,
        'round 1 to close',
      );
      // the control plane restarts (same database and artifacts); the crashed agent comes back
      await cloud.down();
      await start(2, false, false);
      await cloud.up();
      const done = await waitJob(cloud, job.id, ['completed', 'failed'], 300_000);
      expect(done.error).toBeNull();
      expect(done.state).toBe('completed');
      expect(done.rounds_completed).toBe(3);
      const [r1] = done.history;
      // the crashed device was selected in round 1, sent nothing, and did not stall the round
      expect(r1, JSON.stringify(done.history)).toMatchObject({
        round: 1,
        task: 'fit',
        state: 'closed',
        selected: 3,
        accepted: 2,
        missing: 1,
      });
      // after both restarts, a later training round had all three devices
      expect(done.history.some((h) => h.task === 'fit' && h.round > 1 && h.accepted === 3)).toBe(true);
      expect(done.history.at(-1)).toMatchObject({ task: 'evaluate', state: 'closed' });
      expect(done.final!.accuracy).toBeGreaterThan(0.5);
      expect(done.published).toEqual({ name: 'blobnet', version: '1.1.0' });

      const models = await cloud.admin.get<ModelsResponse>(`${HTTP_PATHS.models}?name=blobnet`);
      const v = models.models[0]!.versions.find((x) => x.version === '1.1.0')!;
      expect(v.parent).toBe('blobnet@1.0.0');
      expect(v.optimization).toBe(`federated:fedavg rounds=3 job=${job.id}`);
      expect(v.metrics.accuracy).toBeCloseTo(done.final!.accuracy!, 9);

      // the published file is a standard ONNX model
      const bytes = new Uint8Array(
        await (
          await fetch(`${cloud.url}${v.variants[0]!.url}`, {
            headers: { authorization: `Bearer ${cloud.cp.adminKey}` },
          })
        ).arrayBuffer(),
      );
      const dir = mkdtempSync(join(tmpdir(), 'verge-fl-'));
      try {
        const file = join(dir, 'blobnet-1.1.0.onnx');
        writeFileSync(file, bytes);
        const check = checkOnnxFiles([file]);
        if (!check.skipped) expect(check.failures).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }, 600_000);
  });
}
