/**
 * verge in the browser vs verge on Node, side by side in one run: the seed CNN's Adam training
 * step (batch 64) and batch-1 inference latency, with onnxruntime-web (WASM) in headless Debian
 * chromium and with onnxruntime-node, the same code (src/web/speed.ts) on the same Fashion-MNIST
 * samples, per thread count, rounds interleaved (order rotated each round), medians reported.
 * Both builds of the app are measured: `cpu` (onnxruntime-web/wasm, what verge ships by default)
 * and `webgpu` (the JSEP build, here on its WebAssembly provider: headless chromium has no GPU);
 * the `cpu` build also with the training loop in a dedicated worker instead of the page's main
 * thread (`cpu-worker`, bench.html?worker=1). A browser side uses N cores (`--threads N`) as the
 * training page does: N data-parallel replicas of one WebAssembly thread each (src/web/app/replicas.ts);
 * `cpu-intra-op` is the cpu build with one session on N onnxruntime-web threads instead.
 * The pages are served cross-origin isolated, so WASM threads are available. TensorFlow.js 4.x
 * trains the same model on the same samples and batch in the same browser (bench/browser-tfjs,
 * backends cpu and webgl; its wasm backend cannot train a CNN), fewer steps as it is far slower.
 *
 * Besides samples/s (wall clock), each side's CPU time per training step is recorded: the Node
 * process's own (process.cpuUsage), and for a browser side every process of the chromium this
 * bench launched (from /proc) — the work a step costs, which other work on a loaded machine
 * disturbs far less than the wall clock (threads that spin while they wait show up here).
 * `--threads default` runs each side at its own choice (the web: what verge's training page uses,
 * min(4, cores) replicas; cpu-intra-op: onnxruntime-web's ceil(cores/2) threads up to 4 when
 * cross-origin isolated; onnxruntime-node: one per physical core).
 *
 *   npm run bench -- browser [--threads 1,2,default] [--rounds 2] [--steps 20] [--warmup 50] [--runs 100]
 *                            [--tfjs-backends cpu,webgl] [--tfjs-steps 3] [--name browser]
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { readIdxSplit } from '../src/data/sources/idx.ts';
import { REPO_SUBSET_DIR } from '../src/data/sources/fashion-mnist.ts';
import { ORT_FLAVORS, type OrtFlavor } from '../src/web/build.ts';
import { measureSpeed, type SpeedResult } from '../src/web/speed.ts';
import { chromiumSkipReason, launchChromium } from '../test/web/chromium.ts';
import { cpuMeter, nodeCpuMs, runBenchPage, serveWebApps } from './browser/pages.ts';
import { median, printTable, round, writeResult } from './lib.ts';

/**
 * Untimed steps before the timed ones, on every side: a new page's first ~25 steps run partly on
 * V8's baseline WebAssembly code while its optimizing tier compiles onnxruntime's hot functions in
 * the background (bench/results/browser-configs-a2.json: ~40 ms of CPU per step on another thread
 * over steps 4–23, 2× the samples/s after 40 warm-up steps than after 3). Training runs for
 * hundreds of steps, so the timed steps measure the steady state; `warmup_samples_per_sec` keeps
 * the first steps' rate.
 */
const WARMUP_STEPS = 50;

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '1,2,default' },
    rounds: { type: 'string', default: '2' },
    steps: { type: 'string', default: '20' },
    runs: { type: 'string', default: '100' },
    warmup: { type: 'string', default: String(WARMUP_STEPS) },
    batch: { type: 'string', default: '64' },
    'tfjs-backends': { type: 'string', default: 'cpu,webgl' },
    'tfjs-steps': { type: 'string', default: '3' },
    name: { type: 'string', default: 'browser' },
  },
});
/** A thread count, or 'default': the runtime's own choice. */
type Threads = number | 'default';
const threadCounts: Threads[] = args.threads.split(',').map((t) => {
  if (t === 'default') return t;
  const n = Number(t);
  if (!(Number.isInteger(n) && n >= 1)) {
    console.error(`bench/browser: --threads takes thread counts or 'default', got '${t}'`);
    process.exit(2);
  }
  return n;
});
const rounds = Number(args.rounds);
const opts = {
  batch: Number(args.batch),
  steps: Number(args.steps),
  warmupSteps: Number(args.warmup),
  inferenceRuns: Number(args.runs),
};

const skip = chromiumSkipReason();
if (skip) {
  console.error(`bench/browser needs chromium: ${skip}`);
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'verge-bench-browser-'));
const flavors = Object.keys(ORT_FLAVORS) as OrtFlavor[];
const served = await serveWebApps(dir, flavors);
const urls = served.urls;
// the TF.js page sits beside verge's (same origin, same data files, same isolation headers)
const tfjsBackends = args['tfjs-backends'].split(',').filter(Boolean);
const tfjsSteps = Number(args['tfjs-steps']);
await build({
  entryPoints: [join(import.meta.dirname, 'browser-tfjs', 'page.ts')],
  outfile: join(dir, 'cpu', 'assets', 'tfjs-bench.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  logLevel: 'silent',
});
copyFileSync(join(import.meta.dirname, 'browser-tfjs', 'page.html'), join(dir, 'cpu', 'tfjs-bench.html'));

type TfjsResult = { backend: string; train_samples_per_sec: number; infer_b1_p50_ms: number; final_loss: number };
async function inTfjs(backend: string): Promise<TfjsResult | { error: string }> {
  const page = await browser.context.newPage();
  try {
    await page.goto(`${urls.cpu}/tfjs-bench.html?backend=${backend}&batch=${opts.batch}&steps=${tfjsSteps}&warmup=1`);
    await page.waitForFunction("window.tfjsBench && window.tfjsBench.state !== 'running'", undefined, {
      timeout: 900_000,
      polling: 1000,
    });
    const b = (await page.evaluate('window.tfjsBench')) as { state: string; result?: TfjsResult; error?: string };
    return b.state === 'done' ? b.result! : { error: b.error ?? 'failed' };
  } finally {
    await page.close();
  }
}
const browser = await launchChromium();
const train = readIdxSplit(
  join(REPO_SUBSET_DIR, 'train-images-idx3-ubyte.gz'),
  join(REPO_SUBSET_DIR, 'train-labels-idx1-ubyte.gz'),
).split;

type Measured = SpeedResult & { cpu_ms_per_step: number };

async function inNode(threads: Threads): Promise<Measured> {
  const cpu = cpuMeter(nodeCpuMs);
  const r = await measureSpeed(train, { ...opts, ...(threads === 'default' ? {} : { threads }), onTimed: cpu.mark });
  return { ...r, cpu_ms_per_step: cpu.perStep(opts.steps) };
}

/**
 * How a browser side uses N cores: 'replicas', N data-parallel replicas of one WebAssembly thread
 * each (the page's session and N − 1 workers; 'default': the training page's choice), or
 * 'intra-op', one session with N onnxruntime-web threads ('default': onnxruntime-web's count).
 */
type WebParallelism = 'replicas' | 'intra-op';
function parallelismQuery(threads: Threads, how: WebParallelism): string {
  if (how === 'intra-op') return threads === 'default' ? '&replicas=1' : `&replicas=1&threads=${threads}`;
  return threads === 'default' ? '' : `&replicas=${threads}&threads=1`;
}

async function inBrowser(
  flavor: OrtFlavor,
  threads: Threads,
  worker: boolean,
  how: WebParallelism,
  o: Pick<typeof opts, 'steps' | 'warmupSteps' | 'inferenceRuns'> = opts,
): Promise<Measured & { crossOriginIsolated: boolean }> {
  const q =
    `batch=${opts.batch}&steps=${o.steps}&warmup=${o.warmupSteps}&runs=${o.inferenceRuns}` +
    parallelismQuery(threads, how) +
    (worker ? '&worker=1' : '');
  return runBenchPage(browser, urls[flavor], q, o.steps);
}

type Side = 'node' | OrtFlavor | 'cpu-worker' | 'cpu-intra-op';
type Row = { side: Side; threads: Threads; r: Measured };
const rows: Row[] = [];
const tfjsRuns: { backend: string; r: TfjsResult | { error: string } }[] = [];
const sides: Side[] = ['node', ...flavors, 'cpu-worker', 'cpu-intra-op'];
let isolated = true;
try {
  // one untimed page per build first: chromium compiles onnxruntime's 14 MB of WebAssembly on the
  // first page (~3 s of background TurboFan CPU here, ~1 s on later pages, which reuse the cached
  // code), which would otherwise land in whichever side runs first
  for (const f of flavors) await inBrowser(f, 1, false, 'replicas', { steps: 1, warmupSteps: 1, inferenceRuns: 1 });
  for (let round = 0; round < rounds; round++) {
    for (const threads of threadCounts) {
      const order = sides.map((_, i) => sides[(i + round) % sides.length]!);
      for (const side of order) {
        console.error(`round ${round + 1}/${rounds}: ${side}, ${threads} thread(s)`);
        if (side === 'node') rows.push({ side, threads, r: await inNode(threads) });
        else {
          const flavor = side === 'cpu-worker' || side === 'cpu-intra-op' ? 'cpu' : side;
          const how = side === 'cpu-intra-op' ? 'intra-op' : 'replicas';
          const r = await inBrowser(flavor, threads, side === 'cpu-worker', how);
          isolated &&= r.crossOriginIsolated;
          rows.push({ side, threads, r });
        }
      }
    }
    for (const backend of tfjsBackends) {
      console.error(`round ${round + 1}/${rounds}: TensorFlow.js ${backend}`);
      tfjsRuns.push({ backend, r: await inTfjs(backend) });
    }
  }
} finally {
  await browser.close();
  await served.close();
  rmSync(dir, { recursive: true, force: true });
}

const results = threadCounts.map((threads) => {
  const pick = (side: Side, k: keyof Measured) =>
    median(rows.filter((x) => x.side === side && x.threads === threads).map((x) => x.r[k] as number));
  const figures = (side: Side) => ({
    train_samples_per_sec: round(pick(side, 'train_samples_per_sec'), 1),
    warmup_samples_per_sec: round(pick(side, 'warmup_samples_per_sec'), 1),
    infer_b1_p50_ms: round(pick(side, 'infer_b1_p50_ms'), 3),
    infer_b1_p99_ms: round(pick(side, 'infer_b1_p99_ms'), 3),
    train_step_ms_min: round(pick(side, 'train_step_ms_min'), 1),
    cpu_ms_per_step: round(pick(side, 'cpu_ms_per_step'), 1),
    replicas: pick(side, 'replicas'),
  });
  const web = figures('cpu');
  const webJsep = figures('webgpu');
  const webWorker = figures('cpu-worker');
  const webIntraOp = figures('cpu-intra-op');
  const node = figures('node');
  return {
    threads,
    web,
    web_jsep_build: webJsep,
    web_in_worker: webWorker,
    web_intra_op_threads: webIntraOp,
    node,
    web_intra_op_over_node_train: round(webIntraOp.train_samples_per_sec / node.train_samples_per_sec, 3),
    web_over_node_train: round(web.train_samples_per_sec / node.train_samples_per_sec, 3),
    web_worker_over_node_train: round(webWorker.train_samples_per_sec / node.train_samples_per_sec, 3),
    web_jsep_over_node_train: round(webJsep.train_samples_per_sec / node.train_samples_per_sec, 3),
    web_over_node_infer_latency: round(web.infer_b1_p50_ms / node.infer_b1_p50_ms, 3),
    web_over_node_cpu_per_step: round(web.cpu_ms_per_step / node.cpu_ms_per_step, 3),
  };
});

printTable(
  [
    'threads',
    'web (cpu build) train/s',
    'web (jsep build) train/s',
    'web (worker) train/s',
    'web intra-op threads',
    'node train/s',
    'web/node',
    'worker/node',
    'jsep/node',
    'intra-op/node',
    'web b1 p50 ms',
    'node b1 p50 ms',
    'CPU ms/step web',
    'worker',
    'intra-op',
    'node',
  ],
  results.map((r) => [
    r.threads,
    r.web.train_samples_per_sec,
    r.web_jsep_build.train_samples_per_sec,
    r.web_in_worker.train_samples_per_sec,
    r.web_intra_op_threads.train_samples_per_sec,
    r.node.train_samples_per_sec,
    r.web_over_node_train,
    r.web_worker_over_node_train,
    r.web_jsep_over_node_train,
    r.web_intra_op_over_node_train,
    r.web.infer_b1_p50_ms,
    r.node.infer_b1_p50_ms,
    r.web.cpu_ms_per_step,
    r.web_in_worker.cpu_ms_per_step,
    r.web_intra_op_threads.cpu_ms_per_step,
    r.node.cpu_ms_per_step,
  ]),
);
const tfjs = Object.fromEntries(
  tfjsBackends.map((backend) => {
    const ok = tfjsRuns.filter((x) => x.backend === backend && !('error' in x.r)).map((x) => x.r as TfjsResult);
    if (ok.length === 0)
      return [backend, { error: (tfjsRuns.find((x) => x.backend === backend)?.r as { error: string }).error }];
    return [
      backend,
      {
        train_samples_per_sec: round(median(ok.map((x) => x.train_samples_per_sec)), 2),
        infer_b1_p50_ms: round(median(ok.map((x) => x.infer_b1_p50_ms)), 3),
      },
    ];
  }),
) as Record<string, { train_samples_per_sec: number; infer_b1_p50_ms: number } | { error: string }>;
const tfjsFastest = Math.max(...Object.values(tfjs).map((x) => ('error' in x ? 0 : x.train_samples_per_sec)));
const vergeWebBest = Math.max(...results.map((r) => r.web.train_samples_per_sec));
const webOverTfjs = tfjsFastest > 0 ? round(vergeWebBest / tfjsFastest, 1) : null;
printTable(
  ['TensorFlow.js backend', 'train samples/s', 'b1 p50 ms'],
  Object.entries(tfjs).map(([b, x]) =>
    'error' in x ? [b, x.error, ''] : [b, x.train_samples_per_sec, x.infer_b1_p50_ms],
  ),
);
console.log(`verge in the browser / TensorFlow.js's fastest training backend: ${webOverTfjs ?? 'n/a'}×`);

const file = writeResult(args.name, {
  model: 'seed CNN (conv32-conv64-dense64), Adam, cross-entropy',
  batch: opts.batch,
  steps: opts.steps,
  warmup_steps: opts.warmupSteps,
  warmup_note:
    "untimed steps first on every side; warmup_samples_per_sec is their rate (on the web: V8 still compiling onnxruntime's hot WebAssembly with its optimizing tier)",
  rounds,
  browser: 'Debian chromium, headless, --disable-gpu',
  onnxruntime_web: (
    JSON.parse(readFileSync(new URL('../node_modules/onnxruntime-web/package.json', import.meta.url), 'utf8')) as {
      version: string;
    }
  ).version,
  cross_origin_isolated: isolated,
  threads:
    "N cores: node, N intra-op threads; web (cpu, jsep, worker), N data-parallel replicas of one WebAssembly thread each (the page's session and N - 1 workers: src/web/app/replicas.ts); web intra-op, one session with N onnxruntime-web threads (before data parallelism)",
  threads_default:
    "'default': each side's own choice (web: what the training page uses, min(4, cores) replicas of one thread; web intra-op: onnxruntime-web's min(4, ceil(cores / 2)) threads when cross-origin isolated; onnxruntime-node: one thread per physical core)",
  cpu_ms_per_step:
    'CPU time per timed training step: node, the Node process (process.cpuUsage); web, every process of the chromium the bench launched (/proc, so the browser and GPU processes too); robust to other load, includes threads spinning while they wait',
  target: 'verge in the browser ≥ 30% of verge on onnxruntime-node (training samples/s)',
  builds: {
    cpu: 'onnxruntime-web/wasm (ort-wasm-simd-threaded.wasm): what `npm run build:web` ships',
    webgpu: 'onnxruntime-web with JSEP (ort-wasm-simd-threaded.jsep.wasm, Asyncify), run on its WASM provider',
    'cpu-worker': 'the cpu build with the training loop in a dedicated worker (bench.html?worker=1)',
    'cpu-intra-op': "the cpu build, one session with onnxruntime-web's intra-op threads (replicas=1)",
  },
  results,
  // threads: the row's setting; wasm_threads: the WebAssembly threads per session the page reported
  runs: rows.map((x) => ({
    ...x.r,
    side: x.side,
    threads: x.threads,
    wasm_threads: (x.r as { threads?: number }).threads,
  })),
  tfjs: {
    version: (
      JSON.parse(
        readFileSync(new URL('../node_modules/@tensorflow/tfjs-core/package.json', import.meta.url), 'utf8'),
      ) as { version: string }
    ).version,
    steps: tfjsSteps,
    note: 'same model, batch and samples, in the same chromium; its wasm backend cannot train a CNN (no Conv2DBackpropFilter); webgl needs a GPU context, headless chromium here runs with --disable-gpu',
    backends: tfjs,
    runs: tfjsRuns,
  },
  verge_web_over_tfjs_fastest_train: webOverTfjs,
  target_tfjs: 'verge in the browser ≥ 20× TensorFlow.js’s fastest training backend there',
});
console.log(`wrote ${file}`);
