/**
 * A first layer's (stem's) weight gradient in isolation: the stem convolutions of resnet18 (64×64),
 * squeezenet1_1 and mobilenet_v2 (96×96) at batch 32, as a model computing the forward conv and
 * dW only (a first layer needs no dX), under two or more conv weight-gradient formulations
 * (src/train/grad/formulations.ts), interleaved run by run; the figure is the median CPU time per
 * run (user + system of this process, onnxruntime's threads included), which moves less than wall
 * time on a loaded machine.
 *
 *   npm run bench -- conv-stem-grad [--forms nchwc-deep,nchwc-deep-strided] [--runs 21]
 *                                   [--threads 2] [--name result-name]
 */
import { GraphBuilder, makeModel } from '../src/onnx/builder.ts';
import { nchwcBlockSize } from '../src/runtime/nchwc.ts';
import { Session } from '../src/runtime/session.ts';
import type { TensorValue } from '../src/runtime/tensor.ts';
import { buildGradientModel } from '../src/train/autodiff.ts';
import { resolveFormulations, type Formulations } from '../src/train/grad/formulations.ts';
import { rng } from '../src/data/dataset.ts';
import { median, printTable, round, writeResult } from './lib.ts';

interface Stem {
  x: number[];
  w: number[];
  strides: number[];
  pads: number[];
}
const STEMS: Readonly<Record<string, Stem>> = {
  resnet18: { x: [32, 3, 64, 64], w: [64, 3, 7, 7], strides: [2, 2], pads: [3, 3, 3, 3] },
  squeezenet1_1: { x: [32, 3, 96, 96], w: [64, 3, 3, 3], strides: [2, 2], pads: [0, 0, 0, 0] },
  mobilenet_v2: { x: [32, 3, 96, 96], w: [32, 3, 3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
};
const WARMUP = 3;

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const size = (dims: number[]) => dims.reduce((a, b) => a * b, 1);

function randomTensor(dims: number[], next: () => number): TensorValue {
  return { dtype: 'float32', dims, data: Float32Array.from({ length: size(dims) }, () => next() - 0.5) };
}

/** One session per formulation over the same stem, and the feeds they share. */
async function build(
  stem: Stem,
  forms: Partial<Formulations>[],
  threads: number,
): Promise<{ sessions: Session[]; feeds: Record<string, TensorValue> }> {
  const next = rng(1);
  const weights = Array.from({ length: size(stem.w) }, () => next() - 0.5);
  const sessions: Session[] = [];
  const feeds: Record<string, TensorValue> = { x: randomTensor(stem.x, next) };
  for (const f of forms) {
    const g = new GraphBuilder();
    g.input('x', 'float32', stem.x);
    const w = g.initializer('w', 'float32', stem.w, weights);
    g.output(g.op('Conv', ['x', w], { strides: stem.strides, pads: stem.pads }));
    const gm = await buildGradientModel(makeModel(g.graph), [w], 0, f);
    const seed = [...gm.seedInputs.values()][0]!;
    feeds[seed.input] ??= randomTensor(seed.dims, next);
    sessions.push(await Session.create(gm.model, { threads }));
  }
  return { sessions, feeds };
}

async function cpuMs(s: Session, feeds: Record<string, TensorValue>): Promise<number> {
  const c0 = process.cpuUsage();
  await s.run(feeds);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

const names = (flag('forms') ?? 'nchwc-deep,nchwc-deep-strided').split(',') as Formulations['convWeight'][];
const runs = Number(flag('runs') ?? 21);
const threads = Number(flag('threads') ?? 2);
const block = (await nchwcBlockSize()) as Formulations['nchwcBlock'];
const forms = names.map((convWeight) => resolveFormulations({ convWeight, nchwcBlock: block }));
const results: Record<string, unknown>[] = [];
for (const [model, stem] of Object.entries(STEMS)) {
  const { sessions, feeds } = await build(stem, forms, threads);
  const times: number[][] = forms.map(() => []);
  for (let r = 0; r < WARMUP + runs; r++)
    for (let k = 0; k < sessions.length; k++) {
      const t = await cpuMs(sessions[k]!, feeds);
      if (r >= WARMUP) times[k]!.push(t);
    }
  for (const s of sessions) await s.release();
  const med = times.map((t) => round(median(t), 2));
  results.push({
    model,
    ...stem,
    cpu_ms_median: Object.fromEntries(names.map((n, k) => [n, med[k]])),
    over_first: Object.fromEntries(names.slice(1).map((n, k) => [n, round(med[k + 1]! / med[0]!)])),
    cpu_ms_runs: Object.fromEntries(names.map((n, k) => [n, times[k]!.map((t) => round(t, 2))])),
  });
}
printTable(
  ['stem', ...names.map((n) => `${n} CPU ms`), 'ratio'],
  results.map((r) => [
    r.model as string,
    ...names.map((n) => (r.cpu_ms_median as Record<string, number>)[n]!),
    Object.values(r.over_first as Record<string, number>).join(' / '),
  ]),
);
const path = writeResult(flag('name') ?? 'conv-stem-grad', {
  config: {
    forms: names,
    runs,
    warmup: WARMUP,
    threads,
    nchwc_block: block,
    measure: 'forward conv + dW, CPU time per run',
  },
  results,
});
console.log(`wrote ${path}`);
