/**
 * Federated learning over a real fleet of agent PROCESSES: a control plane (embedded MQTT broker,
 * SQLite) and N `verge agent` processes, each with its own Dirichlet-0.3 shard of Fashion-MNIST as
 * `--data` (x.npy/y.npy), run a FedAvg job with int8 updates over MQTT + HTTP; one agent is killed
 * (SIGKILL) while round 1 is open and before it answered. Measured: seconds per round, who answered,
 * bytes up, the devices' hold-out accuracy, the published model's accuracy on the test images, and
 * the load average (the machine is shared).
 *
 *   npm run bench -- fl-fleet [--agents 10] [--per 300] [--rounds 3] [--name fl-fleet]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildControlPlane } from '../src/cloud/index.ts';
import { CloudClient } from '../src/cloud/client.ts';
import { meanStd, selectSamples } from '../src/data/dataset.ts';
import { writeNpy } from '../src/data/npy.ts';
import { loadFashionMnist } from '../src/data/sources/fashion-mnist.ts';
import { localAccuracy } from '../src/demo/traffic.ts';
import { partitionIndices } from '../src/fl/partition.ts';
import { buildArchitecture } from '../src/nn/index.ts';
import { decodeModel, encodeModel } from '../src/onnx/codec.ts';
import { FL_PATHS, HTTP_PATHS, type FlJob, type ModelsResponse } from '../src/protocol/index.ts';
import { printTable, round, writeResult } from './lib.ts';

const ROOT = join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '10' },
    per: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '3' },
    name: { type: 'string', default: 'fl-fleet' },
  },
});
const AGENTS = Number(values.agents);
const PER = Number(values.per);
const ROUNDS = Number(values.rounds);
const TAGS = { bench: 'fl-fleet' };
/** Generous: N processes build training sessions on a shared 2-core machine. */
const ROUND_TIMEOUT_S = 300;

const loads: { at: string; what: string; load_average: number[] }[] = [];
const mark = (what: string) =>
  loads.push({ at: new Date().toISOString(), what, load_average: loadavg().map((l) => round(l, 2)) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

mark('start');
const base = mkdtempSync(join(tmpdir(), 'verge-fl-fleet-'));
const children: ChildProcess[] = [];
const cp = await buildControlPlane({ dataDir: join(base, 'cloud'), tickMs: 200 });
try {
  const { url } = await cp.start({ port: 0 });
  const op = new CloudClient({ url, apiKey: cp.adminKey });

  const data = loadFashionMnist({ train: AGENTS * PER, test: 1000 });
  const shards = partitionIndices(data.train.y, AGENTS, { kind: 'dirichlet', alpha: 0.3 }, 0);
  const model = buildArchitecture('cnn', {
    inputShape: data.shape,
    classes: data.classes,
    seed: 0,
    standardize: meanStd(data.train.x),
  });
  const a = await op.upload<{ sha256: string }>(HTTP_PATHS.artifacts, encodeModel(model));
  await op.post(HTTP_PATHS.models, { name: 'fleet-cnn', version: '1.0.0', variant: 'fp32', sha256: a.sha256 });

  const t0 = performance.now();
  const started = await Promise.all(
    shards.map(async (idx, k) => {
      const dir = join(base, `data-${k}`);
      mkdirSync(dir);
      const s = selectSamples(data.train, idx);
      writeNpy(join(dir, 'x.npy'), { dtype: 'float32', shape: [s.count, ...data.shape], data: s.x });
      writeNpy(join(dir, 'y.npy'), { dtype: 'int32', shape: [s.count], data: s.y });
      const token = (await op.post<{ token: string }>(HTTP_PATHS.enrollTokens, { tags: TAGS })).token;
      const child = spawn(
        process.execPath,
        [
          join(ROOT, 'bin', 'verge.js'),
          'agent',
          '--json',
          '--quiet',
          ...['--cloud', url, '--enroll-token', token, '--name', `fleet-${k}`],
          ...['--data-dir', join(base, `agent-${k}`), '--data', dir, '--threads', '1'],
        ],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      children.push(child);
      let out = '';
      let err = '';
      child.stderr!.on('data', (d) => (err += d));
      return new Promise<{ device_id: string; samples: number; child: ChildProcess }>((resolve, reject) => {
        child.stdout!.on('data', (d) => {
          out += d;
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line) resolve({ ...(JSON.parse(line) as { device_id: string }), samples: s.count, child });
        });
        child.on('exit', (code) => reject(new Error(`agent ${k} exited (${code}): ${err.slice(-500)}`)));
      });
    }),
  );
  for (;;) {
    const devs = await op.get<{ devices: { status: string }[] }>(HTTP_PATHS.devices);
    if (devs.devices.filter((d) => d.status === 'online').length === AGENTS) break;
    await sleep(200);
  }
  const startupSeconds = (performance.now() - t0) / 1000;
  mark('agents online');
  process.stderr.write(`fl-fleet: ${AGENTS} agent processes online in ${startupSeconds.toFixed(1)} s\n`);

  const job = await op.post<FlJob>(FL_PATHS.jobs, {
    model: { name: 'fleet-cnn', version: '1.0.0' },
    target: { tags: TAGS },
    rounds: ROUNDS,
    strategy: 'fedavg',
    min_fit_clients: AGENTS - 2,
    round_timeout_s: ROUND_TIMEOUT_S,
    local_epochs: 1,
    batch_size: 32,
    lr: 0.05,
    compress: 'int8',
  });
  const jobStart = performance.now();
  // kill the last agent while round 1 is open and its seat is still pending
  const victim = started[AGENTS - 1]!;
  let killed: { at_s: number; seat: string } | null = null;
  let done = job;
  while (done.state === 'running') {
    if (!killed) {
      const seat = (await cp.repos.fl.participants(job.id, 1)).find((p) => p.device_id === victim.device_id);
      if (seat) {
        await sleep(1000);
        const now = (await cp.repos.fl.participants(job.id, 1)).find((p) => p.device_id === victim.device_id)!;
        victim.child.kill('SIGKILL');
        killed = { at_s: round((performance.now() - jobStart) / 1000, 1), seat: now.state };
        process.stderr.write(`  killed fleet-${AGENTS - 1} (seat ${now.state}) at ${killed.at_s} s\n`);
      }
    }
    await sleep(250);
    done = await op.get<FlJob>(FL_PATHS.job(job.id));
  }
  const jobSeconds = (performance.now() - jobStart) / 1000;
  mark('job ended');
  if (done.state !== 'completed') throw new Error(`job ${done.state}: ${done.error}`);

  let prev = done.created_at;
  const rounds = done.history.map((h) => {
    const seconds = ((h.closed_at ?? prev) - prev) / 1000;
    prev = h.closed_at ?? prev;
    return {
      round: h.round,
      task: h.task,
      state: h.state,
      selected: h.selected,
      accepted: h.accepted,
      missing: h.missing,
      late: h.late,
      holdout_accuracy: h.accuracy === null ? null : round(h.accuracy, 4),
      uplink_bytes: h.uplink_bytes,
      seconds: round(seconds, 1),
    };
  });
  const listed = await op.get<ModelsResponse>(HTTP_PATHS.model(done.published!.name));
  const mv = listed.models[0]!.versions.find((v) => v.version === done.published!.version)!;
  const published = decodeModel(await op.download(mv.variants[0]!.sha256));
  const testAccuracy = await localAccuracy(published, data, data.test.count).then((a) => a.accuracy);
  const startAccuracy = await localAccuracy(model, data, data.test.count).then((a) => a.accuracy);

  const path = writeResult(values.name!, {
    config: {
      agents: AGENTS,
      samples_per_agent: PER,
      partition: 'dirichlet:0.3',
      rounds: ROUNDS,
      strategy: 'fedavg',
      compress: 'int8',
      min_fit_clients: AGENTS - 2,
      round_timeout_s: ROUND_TIMEOUT_S,
      model: 'seed CNN (nn cnn), untrained start',
      transport:
        'control plane in this process (embedded MQTT broker, SQLite); agents are separate `verge agent` processes, 1 onnxruntime thread each',
      data_source: data.source,
    },
    agents_online_seconds: round(startupSeconds, 1),
    killed: { agent: `fleet-${AGENTS - 1}`, signal: 'SIGKILL', ...killed },
    job: { id: done.id, state: done.state, rounds_completed: done.rounds_completed, seconds: round(jobSeconds, 1) },
    rounds,
    final_holdout_accuracy: done.final?.accuracy === null ? null : round(done.final!.accuracy!, 4),
    test_accuracy: { start: round(startAccuracy, 4), published: round(testAccuracy, 4), test_samples: data.test.count },
    published: done.published,
    load_averages: loads,
  });
  printTable(
    ['round', 'task', 'selected', 'accepted', 'missing', 'hold-out acc', 'bytes up', 's'],
    rounds.map((r) => [
      r.round,
      r.task,
      r.selected,
      r.accepted,
      r.missing,
      r.holdout_accuracy ?? '-',
      r.uplink_bytes,
      r.seconds,
    ]),
  );
  process.stderr.write(
    `job ${done.state} in ${jobSeconds.toFixed(1)} s; test accuracy ${(startAccuracy * 100).toFixed(1)}% → ${(testAccuracy * 100).toFixed(1)}%\nwrote ${path}\n`,
  );
} finally {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  await sleep(500);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await cp.close();
  rmSync(base, { recursive: true, force: true });
}
