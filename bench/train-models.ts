/**
 * Training throughput on real architectures, verge vs PyTorch, side by side in one run: the seed
 * CNN, mobilenet_v2, resnet18, squeezenet1_1, a GRU sequence classifier and a small transformer
 * encoder (bench/train_models.py defines them, exports what verge trains, and times PyTorch).
 * Same architecture, batch, optimizer (SGD lr 0.01) and seeded random batches on both sides; at
 * each thread count, rounds alternate PyTorch / verge and samples/s is the median over rounds.
 * verge runs each model in its own worker process so its peak RSS is the model's own, and
 * onnxruntime's profiler names verge's top kernels per model.
 *
 * The PyTorch process runs with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (this machine pins
 * them in the environment; PyTorch's results are identical without them, and faster), under
 * jemalloc and with OpenBLAS single-threaded (PyTorch at its best here; without them its steps
 * page-fault and spread ~2x between processes): bench/lib.ts torchEnv, recorded as pytorch_env.
 *
 *   npm run bench -- train-models [--models mobilenet_v2,resnet18] [--threads 2,1] [--steps 20]
 *                                 [--warmup 3] [--rounds 2] [--no-profile] [--formulations k=v,…]
 *                                 [--alternative k=v,…] [--no-pytorch] [--name result-name]
 *
 * --alternative adds a contender: verge with those gradient formulations (on top of --formulations),
 * in its own worker, timed in the same interleaved rounds (PyTorch, verge, alternative); the row
 * gets alt_samples_per_sec and alt_over_default. Several contenders are separated by ';'
 * (`--alternative 'convLayout=nchw;maxPool=slices'`): each in its own worker, all in the same
 * rounds (verge's contenders take turns going first), listed in the row's `alternatives` (the
 * alt_* fields are the first one's). Each verge round also reports the worker's CPU time per step
 * (cpu_ms_per_step): on a loaded machine it moves less than wall time. --no-pytorch skips the
 * PyTorch side (a formulation A/B only). The profile (at the first thread count, unless
 * --no-profile) lists verge's top op types and top nodes (onnxruntime's profiler) and PyTorch's top
 * ops by self CPU time (torch.autograd.profiler) over the same steps: the per-kernel comparison.
 *
 * A run over all models writes bench/results/train-models.json; a run over some (--models) writes
 * bench/results/train-models-<names>.json; --name writes bench/results/<name>.json.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { rng } from '../src/data/dataset.ts';
import { loadModel } from '../src/onnx/io.ts';
import type { TensorValue } from '../src/runtime/tensor.ts';
import { hasRecurrent } from '../src/train/lower/recurrent.ts';
import { lowerRecurrentFor } from '../src/train/lower/parameters.ts';
import { parseFormulations } from '../src/train/grad/formulations.ts';
import { nchwcBlockSize } from '../src/runtime/nchwc.ts';
import { TrainingSession } from '../src/train/session.ts';
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

const here = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(here, 'train_models.py');
const LR = 0.01;
const CLASSES = 10;
/** Distinct batches cycled through (as train_models.py does). */
const DATA_BATCHES = 4;
const PROFILE_STEPS = 5;
const TOP_KERNELS = 6;
const TOP_NODES = 12;

interface Spec {
  shape: number[];
  batch: number;
  opset: number;
  note: string;
}
interface RoundResult {
  samples_per_sec: number;
  ms_per_step: number;
  cpu_ms_per_step?: number;
  loss: number;
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const num = (name: string, def: number) => Number(flag(name) ?? def);

function python(args: string[]): string {
  return execFileSync(PYTHON, [SCRIPT, ...args], {
    encoding: 'utf8',
    env: torchEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Seeded standard-normal batches and labels (verge's side of train_models.py's data). */
function batches(spec: Spec): { x: TensorValue; y: TensorValue }[] {
  const r = rng(1);
  const per = spec.shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: DATA_BATCHES }, () => {
    const x = new Float32Array(spec.batch * per);
    for (let i = 0; i < x.length; i++) {
      const u = Math.max(r(), 1e-12);
      x[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
    }
    const y = Int32Array.from({ length: spec.batch }, () => Math.floor(r() * CLASSES));
    return {
      x: { dtype: 'float32', dims: [spec.batch, ...spec.shape], data: x },
      y: { dtype: 'int32', dims: [spec.batch], data: y },
    };
  });
}

// ---- the verge worker: one model, one thread count; answers 'run', 'profile' and 'quit' on stdin ----

async function worker(): Promise<void> {
  const [onnx, specJson, threads, steps, warmup] = [
    flag('onnx')!,
    flag('spec')!,
    num('threads', 2),
    num('steps', 20),
    num('warmup', 3),
  ];
  const spec = JSON.parse(specJson) as Spec;
  const data = batches(spec);
  let model = loadModel(onnx);
  const formulations = parseFormulations(flag('formulations') ?? '');
  if (hasRecurrent(model)) model = await lowerRecurrentFor(model, { input: data[0]!.x }, formulations);
  const t0 = performance.now();
  const session = await TrainingSession.create(model, {
    loss: 'cross-entropy',
    optimizer: { kind: 'sgd', lr: LR },
    threads,
    formulations,
  });
  const buildMs = performance.now() - t0;
  let i = 0;
  const step = () => {
    const b = data[i++ % DATA_BATCHES]!;
    return session.step({ input: b.x }, b.y, LR);
  };
  for (let k = 0; k < warmup; k++) await step();
  const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
  say({ ready: true, build_ms: round(buildMs, 0) });
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'run') {
      const t = performance.now();
      const cpu0 = process.cpuUsage();
      let last = NaN;
      for (let k = 0; k < steps; k++) last = (await step()).loss;
      const ms = performance.now() - t;
      const cpu = process.cpuUsage(cpu0);
      say({
        samples_per_sec: (steps * spec.batch * 1000) / ms,
        ms_per_step: ms / steps,
        cpu_ms_per_step: (cpu.user + cpu.system) / 1000 / steps,
        loss: last,
      });
    } else if (line === 'rss') say({ peak_rss_mb: peakRssMb() });
    else if (line === 'profile') say(await profile(session, data[0]!, threads));
    else break;
  }
  say({ peak_rss_mb: peakRssMb() });
  await session.release();
  process.exit(0); // stdin's reader would keep the worker alive
}

/** onnxruntime's profiler over a few steps of the training graph: kernel time per op type. */
async function profile(
  session: TrainingSession,
  b: { x: TensorValue; y: TensorValue },
  threads: number,
): Promise<Record<string, unknown>> {
  const { Session } = await import('../src/runtime/session.ts');
  const dir = mkdtempSync(join(tmpdir(), 'verge-train-models-'));
  const s = await Session.create(session.graph.model, { threads, profilePrefix: join(dir, 'p') });
  const feeds: Record<string, TensorValue> = { ...session.getState().tensors, input: b.x };
  feeds[session.graph.labels] = {
    dtype: 'int64',
    dims: b.y.dims,
    data: BigInt64Array.from(Array.from(b.y.data as Int32Array, BigInt)),
  };
  feeds[session.graph.lr] = { dtype: 'float32', dims: [], data: Float32Array.of(LR) };
  feeds[session.graph.step] = { dtype: 'float32', dims: [], data: Float32Array.of(1) };
  for (let k = 0; k < PROFILE_STEPS; k++) await s.run(feeds);
  s.endProfiling();
  await s.release();
  const file = readdirSync(dir).find((f) => f.endsWith('.json'));
  const events = file
    ? (JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
        cat: string;
        name: string;
        dur: number;
        args?: { op_name?: string; output_type_shape?: Record<string, number[]>[] };
      }[])
    : [];
  rmSync(dir, { recursive: true, force: true });
  const byOp = new Map<string, number>();
  // Per node: op, output shape and time (which layer and direction a kernel belongs to).
  const byNode = new Map<string, { op: string; output: number[]; us: number }>();
  let total = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
    const node = e.name.slice(0, -'_kernel_time'.length);
    const seen = byNode.get(node) ?? {
      op,
      output: Object.values(e.args?.output_type_shape?.[0] ?? {})[0] ?? [],
      us: 0,
    };
    seen.us += e.dur;
    byNode.set(node, seen);
    total += e.dur;
  }
  const ms = (us: number) => round(us / PROFILE_STEPS / 1000, 2);
  return {
    kernel_ms_per_step: round(total / PROFILE_STEPS / 1000, 1),
    top_kernels: [...byOp]
      .sort((a, c) => c[1] - a[1])
      .slice(0, TOP_KERNELS)
      .map(([op, us]) => ({ op, ms_per_step: round(us / PROFILE_STEPS / 1000, 1), share: round(us / total, 3) })),
    top_nodes: [...byNode]
      .sort((a, c) => c[1].us - a[1].us)
      .slice(0, TOP_NODES)
      .map(([node, v]) => ({ node, op: v.op, output: v.output, ms_per_step: ms(v.us), share: round(v.us / total, 3) })),
  };
}

// ---- the coordinator ----

class Worker {
  private readonly lines: AsyncIterableIterator<string>;
  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  }
  async read<T>(): Promise<T> {
    const r = await this.lines.next();
    if (r.done) throw new Error('the verge worker exited early');
    return JSON.parse(r.value) as T;
  }
  async ask<T>(cmd: string): Promise<T> {
    this.child.stdin.write(`${cmd}\n`);
    return this.read<T>();
  }
  async quit(): Promise<{ peak_rss_mb: number }> {
    const r = await this.ask<{ peak_rss_mb: number }>('quit');
    this.child.stdin.end();
    return r;
  }
}

function startWorker(
  onnx: string,
  spec: Spec,
  threads: number,
  steps: number,
  warmup: number,
  formulations: string | undefined,
): Worker {
  const args = [
    join(here, 'run.js'),
    'train-models',
    '--worker',
    '--onnx',
    onnx,
    '--spec',
    JSON.stringify(spec),
    '--threads',
    String(threads),
    '--steps',
    String(steps),
    '--warmup',
    String(warmup),
    ...(formulations ? ['--formulations', formulations] : []),
  ];
  return new Worker(spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
}

async function coordinate(): Promise<void> {
  const pyVersions = pythonVersions();
  if (!pyVersions)
    throw new Error('bench/train-models needs /usr/bin/python3 with python3-torch and python3-torchvision');
  const specs = JSON.parse(python(['spec'])) as Record<string, Spec>;
  const models = (flag('models') ?? Object.keys(specs).join(',')).split(',');
  for (const m of models)
    if (!specs[m]) throw new Error(`unknown model ${m} (known: ${Object.keys(specs).join(', ')})`);
  const threadCounts = (flag('threads') ?? '2,1').split(',').map(Number);
  const steps = num('steps', 20);
  const warmup = num('warmup', 3);
  const rounds = num('rounds', 2);
  const doProfile = !process.argv.includes('--no-profile');
  const withTorch = !process.argv.includes('--no-pytorch');
  // The alternative's formulations apply on top of --formulations (later keys win).
  const alternative = flag('alternative');
  const altSpecs = (alternative ?? '').split(';').filter(Boolean);
  const altFormulations = altSpecs.map((a) => [flag('formulations'), a].filter(Boolean).join(','));
  const block = await nchwcBlockSize();
  const dir = mkdtempSync(join(tmpdir(), 'verge-train-models-'));
  const rows: Record<string, unknown>[] = [];
  // Written after every row, so a run cut short keeps what it measured.
  const save = (): string => {
    // A run over some of the models writes its own file, so it never replaces the full table.
    const all = models.length === Object.keys(specs).length;
    return writeResult(flag('name') ?? (all ? 'train-models' : `train-models-${models.join('-')}`), {
      machine: machineInfo(),
      python: pyVersions,
      config: {
        optimizer: 'sgd',
        lr: LR,
        steps,
        warmup,
        rounds,
        threads: threadCounts,
        formulations: flag('formulations') ?? 'defaults',
        // onnxruntime's NCHWc block: the NCHWc gradient forms are built for it.
        nchwc_block: block,
        ...(alternative ? { alternative } : {}),
        ...(withTorch ? {} : { pytorch: 'skipped (--no-pytorch)' }),
        data: 'seeded standard-normal batches, 10 classes',
        models: Object.fromEntries(models.map((m) => [m, specs[m]])),
        pytorch_env: pytorchEnvRecord(),
      },
      results: rows,
    });
  };
  try {
    for (const name of models) {
      const spec = specs[name]!;
      const onnx = join(dir, `${name}.onnx`);
      python(['export', name, onnx]);
      for (const threads of threadCounts) {
        process.stderr.write(`${name}, ${threads} thread(s): building the training graph…\n`);
        const w = startWorker(onnx, spec, threads, steps, warmup, flag('formulations'));
        const ready = await w.read<{ build_ms: number }>();
        const alts = altFormulations.map((f) => startWorker(onnx, spec, threads, steps, warmup, f));
        for (const alt of alts) await alt.read<{ build_ms: number }>();
        const verge: RoundResult[] = [];
        const altRounds: RoundResult[][] = alts.map(() => []);
        const torch: RoundResult[] = [];
        let torchRss = 0;
        for (let r = 0; r < rounds; r++) {
          process.stderr.write(
            `${name}, ${threads} thread(s), round ${r + 1}/${rounds}: ${withTorch ? 'pytorch, ' : ''}verge${alts.length ? `, ${alts.length} alternative(s)` : ''}…\n`,
          );
          // verge's contenders take turns going first: none always runs right after another's round.
          const workers = [w, ...alts];
          const results = [verge, ...altRounds];
          for (let j = 0; j < workers.length; j++) {
            const k = (j + r) % workers.length;
            results[k]!.push(await workers[k]!.ask<RoundResult>('run'));
          }
          if (!withTorch) continue;
          const t = JSON.parse(python(['time', name, String(threads), String(steps), String(warmup)])) as {
            seconds: number;
            loss: number;
            peak_rss_mb: number;
          };
          torch.push({
            samples_per_sec: (steps * spec.batch) / t.seconds,
            ms_per_step: (t.seconds * 1000) / steps,
            loss: t.loss,
          });
          torchRss = Math.max(torchRss, t.peak_rss_mb);
        }
        const altRss: number[] = [];
        for (const alt of alts) {
          altRss.push((await alt.ask<{ peak_rss_mb: number }>('rss')).peak_rss_mb);
          await alt.quit();
        }
        // Peak RSS of the training alone: the profiling session below is a second copy of the graph.
        const { peak_rss_mb } = await w.ask<{ peak_rss_mb: number }>('rss');
        const prof =
          doProfile && threads === threadCounts[0] ? await w.ask<Record<string, unknown>>('profile') : undefined;
        await w.quit();
        // PyTorch's own profiler on the same steps: the per-kernel side of the comparison.
        const torchProf =
          prof && withTorch
            ? (JSON.parse(python(['profile', name, String(threads), String(PROFILE_STEPS)])) as Record<string, unknown>)
            : undefined;
        const v = median(verge.map((x) => x.samples_per_sec));
        const p = median(torch.map((x) => x.samples_per_sec));
        const cpu = (rs: RoundResult[]) => round(median(rs.map((x) => x.cpu_ms_per_step ?? NaN)), 2);
        const contenders = altRounds.map((rs, k) => {
          const a = median(rs.map((x) => x.samples_per_sec));
          return {
            formulations: altSpecs[k]!,
            samples_per_sec: round(a, 1),
            over_default: round(a / v, 3),
            cpu_ms_per_step: cpu(rs),
            cpu_over_default: round(cpu(rs) / cpu(verge), 3),
            peak_rss_mb: altRss[k]!,
          };
        });
        const first = contenders[0];
        rows.push({
          model: name,
          threads,
          batch: spec.batch,
          input: spec.shape,
          verge_samples_per_sec: round(v, 1),
          pytorch_samples_per_sec: round(p, 1),
          ratio: round(v / p, 3),
          verge_peak_rss_mb: peak_rss_mb,
          pytorch_peak_rss_mb: round(torchRss, 1),
          rss_ratio: round(peak_rss_mb / torchRss, 2),
          verge_build_ms: ready.build_ms,
          verge_cpu_ms_per_step: cpu(verge),
          ...(first
            ? {
                alt_samples_per_sec: first.samples_per_sec,
                alt_over_default: first.over_default,
                alt_cpu_ms_per_step: first.cpu_ms_per_step,
                alt_cpu_over_default: first.cpu_over_default,
                alt_peak_rss_mb: first.peak_rss_mb,
                alternatives: contenders,
              }
            : {}),
          rounds: {
            verge,
            pytorch: torch,
            ...(first ? { alternatives: altRounds } : {}),
          },
          ...(prof ? { verge_profile: prof } : {}),
          ...(torchProf ? { pytorch_profile: torchProf } : {}),
        });
        save();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const path = save();
  printTable(
    [
      'model',
      'threads',
      'verge samples/s',
      'pytorch samples/s',
      'ratio',
      'verge RSS MB',
      'pytorch RSS MB',
      'top kernels',
    ],
    rows.map((r) => [
      r.model as string,
      r.threads as number,
      r.verge_samples_per_sec as number,
      r.pytorch_samples_per_sec as number,
      r.ratio as number,
      r.verge_peak_rss_mb as number,
      r.pytorch_peak_rss_mb as number,
      ((r.verge_profile as { top_kernels?: { op: string; share: number }[] } | undefined)?.top_kernels ?? [])
        .slice(0, 3)
        .map((k) => `${k.op} ${Math.round(k.share * 100)}%`)
        .join(', '),
    ]),
  );
  process.stdout.write(`wrote ${path}\n`);
}

if (process.argv.includes('--worker')) await worker();
else await coordinate();
