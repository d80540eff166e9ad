/**
 * A/B of the browser's training configurations: bench.html (src/web/app/bench.ts: the seed CNN's
 * Adam step, batch 64, on onnxruntime-web in headless Debian chromium) under each `--config` query
 * (`replicas`, `threads`, `share`, `worker`, `warmup`; '' = the training page's defaults), and optionally
 * onnxruntime-node at `--node` thread counts, in interleaved rounds (order rotated each round),
 * medians. Records samples/s, step p50 and fastest step, CPU per step of all chromium processes,
 * and with `--per-thread` the CPU per step of each chromium thread name (`renderer:CrRendererMain`
 * = the page's main thread, `renderer:DedicatedWorker` = workers, …): where a step's time goes.
 *
 *   npm run bench -- browser-configs --config 'replicas=2&threads=1' --config 'replicas=2&threads=1&share=0.8'
 *     [--node 2,default] [--rounds 5] [--steps 20] [--warmup 3] [--per-thread] [--flavor cpu]
 *     [--chromium-arg=--js-flags=…] [--name browser-configs]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readIdxSplit } from '../src/data/sources/idx.ts';
import { REPO_SUBSET_DIR } from '../src/data/sources/fashion-mnist.ts';
import { ORT_FLAVORS, type OrtFlavor } from '../src/web/build.ts';
import { measureSpeed } from '../src/web/speed.ts';
import { chromiumSkipReason, launchChromium } from '../test/web/chromium.ts';
import { cpuMeter, nodeCpuMs, runBenchPage, serveWebApps, type BenchPageResult } from './browser/pages.ts';
import { median, printTable, round, writeResult } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    config: { type: 'string', multiple: true, default: [''] },
    node: { type: 'string', default: '' },
    rounds: { type: 'string', default: '5' },
    steps: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    batch: { type: 'string', default: '64' },
    flavor: { type: 'string', default: 'cpu' },
    'per-thread': { type: 'boolean', default: false },
    'chromium-arg': { type: 'string', multiple: true, default: [] },
    name: { type: 'string', default: 'browser-configs' },
  },
});
const flavor = args.flavor as OrtFlavor;
if (!(flavor in ORT_FLAVORS)) {
  console.error(`bench/browser-configs: --flavor is one of ${Object.keys(ORT_FLAVORS).join(', ')}`);
  process.exit(2);
}
const nodeThreads = args.node
  .split(',')
  .filter(Boolean)
  .map((t) => (t === 'default' ? t : Number(t)));
if (nodeThreads.some((t) => t !== 'default' && !(Number.isInteger(t) && t >= 1))) {
  console.error(`bench/browser-configs: --node takes thread counts or 'default', got '${args.node}'`);
  process.exit(2);
}
const rounds = Number(args.rounds);
const steps = Number(args.steps);
const warmup = Number(args.warmup);
const batch = Number(args.batch);
const skip = chromiumSkipReason();
if (skip) {
  console.error(`bench/browser-configs needs chromium: ${skip}`);
  process.exit(2);
}

type Side = {
  name: string;
  run: () => Promise<BenchPageResult | (Awaited<ReturnType<typeof measureSpeed>> & { cpu_ms_per_step: number })>;
};
const dir = mkdtempSync(join(tmpdir(), 'verge-bench-browser-configs-'));
const served = await serveWebApps(dir, [flavor]);
const browser = await launchChromium({ args: args['chromium-arg'] });
const train = readIdxSplit(
  join(REPO_SUBSET_DIR, 'train-images-idx3-ubyte.gz'),
  join(REPO_SUBSET_DIR, 'train-labels-idx1-ubyte.gz'),
).split;
const base = `batch=${batch}&steps=${steps}&warmup=${warmup}&runs=10`;
const sides: Side[] = [
  ...args.config.map((c) => ({
    name: c === '' ? 'page defaults' : c,
    // the config first: bench.html reads the first value of a key, so a config may override `warmup`
    run: () => runBenchPage(browser, served.urls[flavor], `${c ? `${c}&` : ''}${base}`, steps, args['per-thread']),
  })),
  ...nodeThreads.map((t) => ({
    name: `node ${t} thread${t === 1 ? '' : 's'}`,
    run: async () => {
      const cpu = cpuMeter(nodeCpuMs);
      const r = await measureSpeed(train, {
        batch,
        steps,
        warmupSteps: warmup,
        inferenceRuns: 10,
        ...(t === 'default' ? {} : { threads: t }),
        onTimed: cpu.mark,
      });
      return { ...r, cpu_ms_per_step: cpu.perStep(steps) };
    },
  })),
];
const runs: { side: string; round: number; r: Awaited<ReturnType<Side['run']>> }[] = [];
try {
  // chromium compiles onnxruntime's WebAssembly on the first page: not in any side's timing
  await runBenchPage(browser, served.urls[flavor], `batch=${batch}&steps=1&warmup=1&runs=1`, 1);
  for (let k = 0; k < rounds; k++) {
    const order = sides.map((_, i) => sides[(i + k) % sides.length]!);
    for (const side of order) {
      console.error(`round ${k + 1}/${rounds}: ${side.name}`);
      runs.push({ side: side.name, round: k + 1, r: await side.run() });
    }
  }
} finally {
  await browser.close();
  await served.close();
  rmSync(dir, { recursive: true, force: true });
}

const results = sides.map((side) => {
  const mine = runs.filter((x) => x.side === side.name).map((x) => x.r);
  const pick = (f: (r: (typeof mine)[number]) => number) => median(mine.map(f));
  const threadNames = [
    ...new Set(mine.flatMap((r) => Object.keys((r as BenchPageResult).thread_cpu_ms_per_step ?? {}))),
  ];
  return {
    side: side.name,
    replicas: pick((r) => r.replicas),
    train_samples_per_sec: round(
      pick((r) => r.train_samples_per_sec),
      1,
    ),
    train_step_ms_p50: round(
      pick((r) => r.train_step_ms_p50),
      1,
    ),
    train_step_ms_min: round(
      pick((r) => r.train_step_ms_min),
      1,
    ),
    cpu_ms_per_step: round(
      pick((r) => r.cpu_ms_per_step),
      1,
    ),
    ...(threadNames.length
      ? {
          thread_cpu_ms_per_step: Object.fromEntries(
            threadNames
              .map(
                (n) =>
                  [
                    n,
                    round(
                      pick((r) => (r as BenchPageResult).thread_cpu_ms_per_step?.[n] ?? 0),
                      1,
                    ),
                  ] as const,
              )
              .filter(([, v]) => v >= 0.5)
              .sort((a, b) => b[1] - a[1]),
          ),
        }
      : {}),
  };
});
const first = results[0]!.train_samples_per_sec;
printTable(
  ['side', 'train/s', `÷ ${results[0]!.side}`, 'step p50 ms', 'fastest step ms', 'CPU ms/step'],
  results.map((r) => [
    r.side,
    r.train_samples_per_sec,
    round(r.train_samples_per_sec / first, 3),
    r.train_step_ms_p50,
    r.train_step_ms_min,
    r.cpu_ms_per_step,
  ]),
);
for (const r of results)
  if (r.thread_cpu_ms_per_step)
    console.log(
      `${r.side}: ${Object.entries(r.thread_cpu_ms_per_step)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
const file = writeResult(args.name, {
  model: 'seed CNN (conv32-conv64-dense64), Adam, cross-entropy',
  what: 'bench.html under each query (replicas, threads, share, worker; page defaults = no query) and onnxruntime-node, interleaved rounds, medians',
  batch,
  steps,
  warmup,
  rounds,
  flavor,
  browser: 'Debian chromium, headless, --disable-gpu',
  chromium_args: args['chromium-arg'],
  cpu_ms_per_step:
    'every chromium process (/proc) or the Node process; thread_cpu_ms_per_step: per chromium process type:thread name',
  results,
  runs: runs.map((x) => ({ side: x.side, round: x.round, ...x.r })),
});
console.log(`wrote ${file}`);
