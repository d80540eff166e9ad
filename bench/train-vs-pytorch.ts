/**
 * Training throughput, verge vs PyTorch, side by side in one run: DESIGN.md's seed CNN, batch 64,
 * Adam (lr 1e-3), 2 threads each, the same Fashion-MNIST batches and the same number of timed
 * steps after a warm-up. Rounds alternate (PyTorch, verge, PyTorch, verge, …) so machine noise
 * hits both; samples/s is the median over rounds. Peak RSS of each process is reported. PyTorch runs
 * with the machine's OpenBLAS pins unset, under jemalloc, OpenBLAS single-threaded (bench/lib.ts torchEnv; recorded as pytorch_env).
 *
 *   npm run bench -- train-vs-pytorch [--steps 200] [--warmup 20] [--rounds 2] [--threads 2] [--profile]
 *                                     [--name result-name]
 *                                     [--formulations convWeight=patch-gemms,…]
 *
 * --name writes bench/results/<name>.json instead of train-vs-pytorch.json.
 * --formulations adds a third contender, verge with those gradient formulations (see
 * src/train/grad/formulations.ts), timed in the same interleaved rounds as the default.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFashionMnist } from '../src/data/sources/fashion-mnist.ts';
import { TrainingSession } from '../src/train/session.ts';
import { parseFormulations } from '../src/train/grad/formulations.ts';
import { seedCnn } from '../test/fixtures/train/models.ts';
import { peakRssMb } from '../src/cli/output.ts';
import {
  PYTHON,
  machineInfo,
  median,
  printTable,
  pythonVersions,
  pytorchEnvRecord,
  round,
  torchEnv,
  writeResult,
} from './lib.ts';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const STEPS = arg('steps', 200);
const WARMUP = arg('warmup', 20);
const ROUNDS = arg('rounds', 2);
const THREADS = arg('threads', 2);
const BATCH = 64;
const PROFILE = process.argv.includes('--profile');
const FORMULATIONS_ARG = process.argv.indexOf('--formulations');
const ALTERNATIVE = FORMULATIONS_ARG >= 0 ? process.argv[FORMULATIONS_ARG + 1]! : undefined;
const NAME_ARG = process.argv.indexOf('--name');
const NAME = NAME_ARG >= 0 ? process.argv[NAME_ARG + 1]! : 'train-vs-pytorch';

// The PyTorch side: the same architecture, optimizer and batches, timed the same way.
const TORCH_SCRIPT = String.raw`
import json, resource, sys, time
import numpy as np
import torch
import torch.nn as nn
torch.set_num_threads(int(sys.argv[2]))
torch.manual_seed(0)
d = sys.argv[1]; steps = int(sys.argv[3]); warmup = int(sys.argv[4]); batch = int(sys.argv[5])
x = torch.from_numpy(np.fromfile(d + '/x.f32', dtype=np.float32).reshape(-1, 1, 28, 28))
y = torch.from_numpy(np.fromfile(d + '/y.i64', dtype=np.int64))
model = nn.Sequential(
    nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(1600, 64), nn.ReLU(), nn.Linear(64, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
lossf = nn.CrossEntropyLoss()
n = x.shape[0] // batch
def step(i):
    j = (i % n) * batch
    opt.zero_grad()
    loss = lossf(model(x[j:j + batch]), y[j:j + batch])
    loss.backward()
    opt.step()
    return loss
for i in range(warmup):
    step(i)
t = time.perf_counter()
for i in range(steps):
    last = step(warmup + i)
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "loss": float(last), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
`;

interface RoundResult {
  samples_per_sec: number;
  ms_per_step: number;
  loss: number;
}

async function main(): Promise<void> {
  const need = (STEPS + WARMUP) * BATCH;
  const ds = loadFashionMnist({ train: Math.min(60000, need), test: 1 });
  const count = Math.floor(ds.train.count / BATCH) * BATCH;
  const dir = mkdtempSync(join(tmpdir(), 'verge-bench-'));
  writeFileSync(join(dir, 'x.f32'), ds.train.x.subarray(0, count * 784));
  writeFileSync(
    join(dir, 'y.i64'),
    new Uint8Array(BigInt64Array.from(Array.from(ds.train.y.subarray(0, count), BigInt)).buffer),
  );
  const torchAvailable = pythonVersions() !== undefined;
  const session = await TrainingSession.create(seedCnn(), {
    loss: 'cross-entropy',
    optimizer: { kind: 'adam', lr: 1e-3 },
    threads: THREADS,
  });
  const nBatches = count / BATCH;
  const feeds = Array.from({ length: nBatches }, (_, b) => ({
    x: {
      image: {
        dtype: 'float32' as const,
        dims: [BATCH, 1, 28, 28],
        data: ds.train.x.subarray(b * BATCH * 784, (b + 1) * BATCH * 784),
      },
    },
    y: { dtype: 'int32' as const, dims: [BATCH], data: ds.train.y.subarray(b * BATCH, (b + 1) * BATCH) },
  }));
  const altSession = ALTERNATIVE
    ? await TrainingSession.create(seedCnn(), {
        loss: 'cross-entropy',
        optimizer: { kind: 'adam', lr: 1e-3 },
        threads: THREADS,
        formulations: parseFormulations(ALTERNATIVE),
      })
    : undefined;
  let stepIndex = 0;
  const vergeStep = async (s = session) => {
    const f = feeds[stepIndex++ % nBatches]!;
    return s.step(f.x, f.y, 1e-3);
  };
  for (let i = 0; i < WARMUP; i++) await vergeStep();
  if (altSession) for (let i = 0; i < WARMUP; i++) await vergeStep(altSession);
  const verge: RoundResult[] = [];
  const alt: RoundResult[] = [];
  const torch: RoundResult[] = [];
  let torchRss = 0;
  for (let r = 0; r < ROUNDS; r++) {
    if (torchAvailable) {
      process.stderr.write(`round ${r + 1}/${ROUNDS}: pytorch ${STEPS} steps…\n`);
      const out = execFileSync(
        PYTHON,
        ['-c', TORCH_SCRIPT, dir, String(THREADS), String(STEPS), String(WARMUP), String(BATCH)],
        { encoding: 'utf8', env: torchEnv() },
      );
      const t = JSON.parse(out) as { seconds: number; loss: number; peak_rss_mb: number };
      torch.push({
        samples_per_sec: (STEPS * BATCH) / t.seconds,
        ms_per_step: (t.seconds * 1000) / STEPS,
        loss: t.loss,
      });
      torchRss = Math.max(torchRss, t.peak_rss_mb);
    }
    process.stderr.write(`round ${r + 1}/${ROUNDS}: verge ${STEPS} steps…\n`);
    const t0 = performance.now();
    let last = { loss: NaN };
    for (let i = 0; i < STEPS; i++) last = await vergeStep();
    const ms = performance.now() - t0;
    verge.push({ samples_per_sec: (STEPS * BATCH * 1000) / ms, ms_per_step: ms / STEPS, loss: last.loss });
    if (altSession) {
      process.stderr.write(`round ${r + 1}/${ROUNDS}: verge [${ALTERNATIVE}] ${STEPS} steps…\n`);
      const t1 = performance.now();
      let lastAlt = { loss: NaN };
      for (let i = 0; i < STEPS; i++) lastAlt = await vergeStep(altSession);
      const msAlt = performance.now() - t1;
      alt.push({ samples_per_sec: (STEPS * BATCH * 1000) / msAlt, ms_per_step: msAlt / STEPS, loss: lastAlt.loss });
    }
  }
  rmSync(dir, { recursive: true, force: true });
  const vSps = median(verge.map((r) => r.samples_per_sec));
  const tSps = torchAvailable ? median(torch.map((r) => r.samples_per_sec)) : NaN;
  const result = {
    machine: machineInfo(),
    python: pythonVersions() ?? null,
    config: {
      model: 'seed CNN',
      batch: BATCH,
      optimizer: 'adam',
      lr: 1e-3,
      threads: THREADS,
      steps: STEPS,
      warmup: WARMUP,
      rounds: ROUNDS,
      data: ds.source,
    },
    pytorch_env: torchAvailable ? pytorchEnvRecord() : null,
    verge: {
      samples_per_sec: round(vSps, 1),
      ms_per_step: round((BATCH * 1000) / vSps, 2),
      rounds: verge,
      peak_rss_mb: peakRssMb(),
    },
    pytorch: torchAvailable
      ? {
          samples_per_sec: round(tSps, 1),
          ms_per_step: round((BATCH * 1000) / tSps, 2),
          rounds: torch,
          peak_rss_mb: round(torchRss, 1),
        }
      : { skipped: 'python3 with torch not found' },
    ratio_verge_over_pytorch: torchAvailable ? round(vSps / tSps, 3) : null,
    ...(altSession
      ? {
          alternative: {
            formulations: ALTERNATIVE,
            samples_per_sec: round(median(alt.map((r) => r.samples_per_sec)), 1),
            rounds: alt,
            ratio_over_default: round(median(alt.map((r) => r.samples_per_sec)) / vSps, 3),
          },
        }
      : {}),
  };
  const profileResult = PROFILE ? await profile() : undefined;
  const path = writeResult(NAME, profileResult ? { ...result, verge_profile: profileResult } : result);
  printTable(
    ['engine', 'samples/s', 'ms/step', 'peak RSS MB'],
    [
      ['verge', round(vSps, 1), round((BATCH * 1000) / vSps, 2), peakRssMb()],
      ['pytorch', round(tSps, 1), round((BATCH * 1000) / tSps, 2), round(torchRss, 1)],
    ],
  );
  process.stdout.write(`ratio verge/pytorch: ${result.ratio_verge_over_pytorch}\n`);
  if (altSession)
    process.stdout.write(
      `verge [${ALTERNATIVE}]: ${round(median(alt.map((r) => r.samples_per_sec)), 1)} samples/s (${round(median(alt.map((r) => r.samples_per_sec)) / vSps, 3)}x the default)\n`,
    );
  process.stdout.write(`wrote ${path}\n`);
  await session.release();
  await altSession?.release();

  // onnxruntime's profiler over a few steps: time per op type and the top nodes (to guide formulations).
  async function profile(): Promise<Record<string, unknown>> {
    const { Session } = await import('../src/runtime/session.ts');
    const { readFileSync } = await import('node:fs');
    const prefix = join(tmpdir(), 'verge-train-profile');
    process.chdir(tmpdir());
    const s = await Session.create(session.graph.model, { threads: THREADS, profilePrefix: prefix });
    const st = session.getState();
    const f = feeds[0]!;
    const fd: Record<string, import('../src/runtime/tensor.ts').TensorValue> = { ...st.tensors, ...f.x };
    fd[session.graph.labels] = {
      dtype: 'int64',
      dims: [BATCH],
      data: BigInt64Array.from(Array.from(f.y.data, BigInt)),
    };
    fd[session.graph.lr] = { dtype: 'float32', dims: [], data: Float32Array.of(1e-3) };
    fd[session.graph.step] = { dtype: 'float32', dims: [], data: Float32Array.of(1) };
    for (let i = 0; i < 30; i++) await s.run(fd);
    s.endProfiling();
    await s.release();
    const { readdirSync } = await import('node:fs');
    const name = readdirSync(tmpdir())
      .filter((f) => f.startsWith('verge-train-profile') && f.endsWith('.json'))
      .sort()
      .at(-1);
    if (!name) throw new Error('onnxruntime wrote no profile');
    const file = join(tmpdir(), name);
    const events = JSON.parse(readFileSync(file, 'utf8')) as {
      cat: string;
      name: string;
      dur: number;
      args?: { op_name?: string };
    }[];
    const byOp = new Map<string, number>();
    const byNode = new Map<string, number>();
    const nodeOp = new Map<string, string>();
    let total = 0;
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      const op = e.args?.op_name ?? '?';
      byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
      byNode.set(e.name, (byNode.get(e.name) ?? 0) + e.dur);
      nodeOp.set(e.name, op);
      total += e.dur;
    }
    const rows = [...byOp]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([k, v]) => [k, round(v / 30 / 1000, 3), `${round((100 * v) / total, 1)}%`]);
    process.stderr.write(`profile: ${round(total / 30 / 1000, 2)} ms kernel time per step\n`);
    printTable(['op', 'ms/step', 'share'], rows);
    const topNodes = [...byNode].sort((a, b) => b[1] - a[1]).slice(0, 15);
    printTable(
      ['node', 'op', 'ms/step'],
      topNodes.map(([k, v]) => [k.replace(/_kernel_time$/, ''), nodeOp.get(k) ?? '?', round(v / 30 / 1000, 3)]),
    );
    rmSync(file, { force: true });
    return {
      kernel_ms_per_step: round(total / 30 / 1000, 2),
      by_op: Object.fromEntries(
        [...byOp]
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => [k, { ms_per_step: round(v / 30 / 1000, 3), share: round(v / total, 3) }]),
      ),
      top_nodes: topNodes.map(([k, v]) => ({
        node: k.replace(/_kernel_time$/, ''),
        op: nodeOp.get(k) ?? '?',
        ms_per_step: round(v / 30 / 1000, 3),
      })),
      node_counts: Object.fromEntries(
        [
          ...session.graph.model.graph.nodes.reduce(
            (m, n) => m.set(n.opType, (m.get(n.opType) ?? 0) + 1),
            new Map<string, number>(),
          ),
        ].sort((a, b) => b[1] - a[1]),
      ),
    };
  }
}

await main();
