/**
 * min_available_clients (Flower's name): a round opens only when that many target devices are
 * online, waiting at most the job's round timeout, then with the devices online (never fewer than
 * min_fit_clients). The rule itself (roundMayOpen) against hand-worked cases, then over a real
 * control plane (embedded broker + SQLite) with three agents, one of them stopped and restarted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roundMayOpen } from '../../src/cloud/fl-coordinator.ts';
import { EdgeAgent } from '../../src/edge/agent.ts';
import { encodeModel } from '../../src/onnx/codec.ts';
import { FL_PATHS, type FlJob, type FlTaskMessage } from '../../src/protocol/index.ts';
import { agentOptions, TestCloud, waitUntil } from '../e2e/harness.ts';
import { deviceShards, waitJob, waitOnline } from './fleet-support.ts';
import { blobDataset, blobModel } from './helpers.ts';

describe('roundMayOpen', () => {
  const at = (online: number, now: number) =>
    roundMayOpen({ online, floor: 2, want: 3, since: 1000, now, timeoutMs: 500 });

  it('waits for min_available_clients until the timeout, never opens below the floor', () => {
    expect(at(3, 1000)).toBe(true); // all wanted devices online: at once
    expect(at(2, 1000)).toBe(false); // two of three: wait…
    expect(at(2, 1499)).toBe(false);
    expect(at(2, 1500)).toBe(true); // …until the timeout, then open with the two
    expect(at(1, 1_000_000)).toBe(false); // below min_fit_clients: never
    // without min_available_clients (want = floor) nothing changes: open as soon as the floor is met
    expect(roundMayOpen({ online: 2, floor: 2, want: 2, since: 1000, now: 1000, timeoutMs: 500 })).toBe(true);
  });
});

describe('min_available_clients over the fleet (embedded broker + SQLite)', () => {
  let cloud: TestCloud;
  const dirs = [0, 1, 2].map((k) => mkdtempSync(join(tmpdir(), `verge-fl-avail-${k}-`)));
  const agents: EdgeAgent[] = [];
  const shards = deviceShards(blobDataset(600, 300), 3, 3);
  const start = async (k: number, enroll: boolean) =>
    (agents[k] = await EdgeAgent.start(
      agentOptions(dirs[k]!, {
        cloudUrl: cloud.url,
        name: `avail-${k}`,
        localData: async () => shards[k]!, // the devices take part in training (the lr schedule's test)
        ...(enroll ? { enrollToken: await cloud.token() } : {}),
      }),
    ));

  beforeAll(async () => {
    cloud = await TestCloud.start();
    await cloud.publish('blobnet', '1.0.0', encodeModel(blobModel(5)));
    for (let k = 0; k < 3; k++) await start(k, true);
    await waitOnline(cloud, 3, 60_000);
    await agents[2]!.stop(); // offline (it says so) until restarted on its data dir
    await waitOnline(cloud, 2, 60_000);
  }, 300_000);

  afterAll(async () => {
    for (const a of agents) await a.stop().catch(() => undefined);
    await cloud?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const job = (minAvailable: number | undefined, timeoutS: number, version: string) =>
    cloud.admin.post<FlJob>(FL_PATHS.jobs, {
      model: { name: 'blobnet', version: '1.0.0' },
      target: { devices: agents.map((a) => a.deviceId) },
      rounds: 1,
      min_fit_clients: 2,
      ...(minAvailable !== undefined ? { min_available_clients: minAvailable } : {}),
      round_timeout_s: timeoutS,
      publish: { name: 'blobnet', version },
    });
  const selected = async (id: string) => (await cloud.cp.repos.fl.participants(id, 1)).length;

  /** The error message of a refused job (or 'accepted'). */
  const bad = (body: Record<string, unknown>) =>
    cloud.admin
      .post(FL_PATHS.jobs, {
        model: { name: 'blobnet', version: '1.0.0' },
        target: { devices: agents.map((a) => a.deviceId) },
        rounds: 1,
        ...body,
      })
      .then(
        () => 'accepted',
        (e: Error) => e.message,
      );

  it('refuses a min_available_clients below min_fit_clients or above the named devices', async () => {
    expect(await bad({ min_fit_clients: 3, min_available_clients: 2 })).toMatch(
      /min_available_clients \(2\) is below min_fit_clients \(3\)/,
    );
    expect(await bad({ min_available_clients: 4 })).toMatch(/min_available_clients \(4\) is more than the 3 target/);
  });

  it('refuses a bad client lr floor or schedule when the job is created, not at its first round', async () => {
    expect(await bad({ lr_min: 0.01 })).toMatch(/lr floor \(lr_min\) needs a client lr decay below 1/);
    // no lr: the devices' default 0.05 is the base of the decay
    expect(await bad({ lr_decay: 0.9, lr_min: 0.1 })).toMatch(/lr_min 0.1\) is above the base client lr 0.05/);
    expect(await bad({ lr: 0.2, lr_decay: 0.9, lr_min: 0 })).toMatch(/lr_min must be > 0/);
    // the cosine schedule: no decay beside it, a floor at most the base rate (the devices' 0.05 here), a known shape
    expect(await bad({ lr_schedule: 'cosine', lr_decay: 0.9 })).toMatch(/cosine client lr schedule takes no lr decay/);
    expect(await bad({ lr_schedule: 'cosine', lr_min: 0.06 })).toMatch(
      /lr_min 0.06\) is above the base client lr 0.05/,
    );
    expect(await bad({ lr_schedule: 'linear' })).toMatch(/lr_schedule/);
  });

  it('a round waits for the third device, opens with all three when it is back; a short timeout opens with two', async () => {
    const waiting = await job(3, 600, '2.0.0');
    expect(waiting.min_available_clients).toBe(3);
    const plain = await job(undefined, 600, '2.1.0');
    expect(plain.min_available_clients).toBe(2); // no extra wait: today's behaviour
    const short = await job(3, 2, '2.2.0');

    // without min_available_clients the round opens at once with the two online devices
    await waitUntil(async () => (await selected(plain.id)) === 2, 60_000, 'the plain job to open with 2');
    // with a 2 s timeout the round gives up waiting for the third and opens with two, not before 2 s
    await waitUntil(async () => (await selected(short.id)) === 2, 60_000, 'the short-timeout job to open with 2');
    const j = (await cloud.cp.repos.fl.getJob(short.id))!;
    const r1 = (await cloud.cp.repos.fl.getRound(short.id, 1))!;
    expect(r1.opened_at - j.created_at).toBeGreaterThanOrEqual(2000);
    // the tick that opened those also looked at the waiting job (created first): still no round
    expect(await selected(waiting.id)).toBe(0);
    expect((await cloud.admin.get<FlJob>(FL_PATHS.job(waiting.id))).history).toEqual([]);
    for (const id of [plain.id, short.id]) await cloud.admin.post(FL_PATHS.stop(id), {}).catch(() => undefined);

    // the third device comes back: the waiting job's round 1 opens with all three
    await start(2, false);
    await waitUntil(async () => (await selected(waiting.id)) === 3, 120_000, 'the waiting job to open with 3');
    await cloud.admin.post(FL_PATHS.stop(waiting.id), {});
  }, 300_000);

  /** The client lr each round's fit tasks carried (as the devices received them over the broker) in a 3-round job. */
  const lrs = new Map<number, Set<number>>();
  let watching = false;
  const scheduledRates = async (schedule: Record<string, unknown>, version: string) => {
    if (!watching) {
      // what the devices receive over the broker, before they act on it
      for (const a of agents.slice(0, 2)) {
        const fl = a.fl!;
        const onTask = fl.onTask.bind(fl);
        fl.onTask = (t: FlTaskMessage) => {
          if (t.task === 'fit' && typeof t.config?.lr === 'number')
            lrs.set(t.round, (lrs.get(t.round) ?? new Set()).add(t.config.lr));
          onTask(t);
        };
      }
      watching = true;
    }
    lrs.clear();
    const created = await cloud.admin.post<FlJob>(FL_PATHS.jobs, {
      model: { name: 'blobnet', version: '1.0.0' },
      target: { devices: agents.slice(0, 2).map((a) => a.deviceId) },
      rounds: 3,
      min_fit_clients: 2,
      round_timeout_s: 120,
      local_steps: 2,
      ...schedule,
      publish: { name: 'blobnet', version },
    });
    const done = await waitJob(cloud, created.id, ['completed', 'failed'], 240_000);
    expect(done.state, done.error ?? '').toBe('completed');
    expect([...lrs.keys()].sort()).toEqual([1, 2, 3]);
    return [1, 2, 3].map((round) => {
      expect([...lrs.get(round)!]).toHaveLength(1); // one rate per round
      return [...lrs.get(round)!][0]!;
    });
  };

  it("each round's tasks carry the scheduled client lr: decayed by lr_decay, held at the lr_min floor", async () => {
    const rates = await scheduledRates({ lr: 0.08, lr_decay: 0.5, lr_min: 0.03 }, '3.0.0');
    // rounds 1–3: 0.08, 0.08·0.5 = 0.04, then max(0.03, 0.08·0.25 = 0.02) = 0.03
    [0.08, 0.04, 0.03].forEach((want, i) => expect(rates[i]).toBeCloseTo(want, 12));
  }, 300_000);

  it("lr_schedule cosine: each round's tasks carry lr_min + (lr − lr_min)(1 + cos(π(r − 1)/R))/2 over the job's R", async () => {
    const rates = await scheduledRates({ lr: 0.08, lr_min: 0.02, lr_schedule: 'cosine' }, '3.1.0');
    // R = 3: cos 0, π/3, 2π/3 → 0.02 + 0.06 × (1, 3/4, 1/4)
    [0.08, 0.065, 0.035].forEach((want, i) => expect(rates[i]).toBeCloseTo(want, 12));
  }, 300_000);
});
