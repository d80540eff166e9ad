/**
 * Finite-difference gradient checks: the analytic gradients of a model (from autodiff) against
 * central differences of L = Σ_outputs Σ(Y · R) for fixed random projections R. Shared by every
 * rule's test. Differences are taken in float64 in JS from onnxruntime's outputs, so float32
 * graphs (ops onnxruntime has no double kernel for) still check to ~1e-3.
 */
import { VergeError } from '../errors.ts';
import { cloneModel, tensorValueInfo, type Model, allocate, numel } from '../onnx/browser.ts';
import { Session, type TensorValue } from '../runtime/index.ts';
import { rng } from '../data/browser.ts';
import { buildGradientModel, type GradientModel } from './autodiff.ts';
import type { Formulations } from './grad/formulations.ts';
import type { TrainingModes } from './grad/rule.ts';

export interface GradCheckOptions {
  /** Finite-difference step. Default 1e-3 (float32 graphs) / 1e-6 (float64). */
  eps?: number;
  /** Relative and absolute tolerances. Defaults: 2e-2/2e-3 for float32, 1e-5/1e-7 for float64. */
  rtol?: number;
  atol?: number;
  /** Elements checked per tensor (a seeded random subset of larger tensors). Default 24. */
  maxElements?: number;
  seed?: number;
  /** Gradient formulations to check (default: the defaults, see grad/formulations.ts). */
  formulations?: Partial<Formulations>;
  /** Training modes of the forward (BatchNorm with fixed statistics; see grad/rule.ts). */
  modes?: TrainingModes;
}

export interface GradCheckResult {
  name: string;
  checked: number;
  maxAbsError: number;
  maxRelError: number;
  failures: string[];
}

type Floats = Float32Array | Float64Array;

function isFloats(d: unknown): d is Floats {
  return d instanceof Float32Array || d instanceof Float64Array;
}

/**
 * Check gradients of `wrt` (graph inputs or initializers of `model`) at the point `feeds`.
 * Returns one result per wrt name; `assertGradients` throws on any failure.
 */
export async function checkGradients(
  model: Model,
  feeds: Record<string, TensorValue>,
  wrt: readonly string[],
  opts: GradCheckOptions = {},
): Promise<GradCheckResult[]> {
  // Initializers under test become inputs so they can be perturbed.
  const m = cloneModel(model);
  const point: Record<string, TensorValue> = { ...feeds };
  for (const name of wrt) {
    const i = m.graph.initializers.findIndex((t) => t.name === name);
    if (i < 0) continue;
    const t = m.graph.initializers[i]!;
    m.graph.initializers.splice(i, 1);
    m.graph.inputs.push(tensorValueInfo(t.name, t.dtype, t.dims));
    point[name] = { dtype: t.dtype, dims: [...t.dims], data: (t.data as Floats).slice() };
  }
  const gm = await buildGradientModel(m, wrt, opts.seed ?? 0, opts.formulations, opts.modes);
  const session = await Session.create(gm.model, { threads: 1 });
  try {
    const outputs = m.graph.outputs.map((o) => o.name);
    const first = await session.run(withZeroSeeds(point, gm.seedInputs), outputs);
    const random = rng(opts.seed ?? 1234);
    const projections = new Map<string, Float64Array>();
    const seedFeeds: Record<string, TensorValue> = {};
    for (const o of outputs) {
      const y = first[o]!;
      const r = Float64Array.from({ length: y.data.length }, () => random() * 2 - 1);
      projections.set(o, r);
      const data = y.dtype === 'float64' ? r : Float32Array.from(r);
      seedFeeds[gm.seedInputs.get(o)!.input] = { dtype: y.dtype, dims: y.dims, data };
    }
    const analytic = await session.run({ ...point, ...seedFeeds }, [...gm.gradOutputs.values()]);
    const lossAt = async (f: Record<string, TensorValue>): Promise<number> => {
      const out = await session.run({ ...f, ...seedFeeds }, outputs);
      let l = 0;
      for (const o of outputs) {
        const y = out[o]!.data as Floats;
        const r = projections.get(o)!;
        for (let i = 0; i < y.length; i++) l += y[i]! * r[i]!;
      }
      return l;
    };
    const results: GradCheckResult[] = [];
    for (const name of wrt) {
      const x = point[name];
      if (!x || !isFloats(x.data))
        throw new VergeError('E_BAD_ARGUMENT', `gradient check: '${name}' is not a float input`);
      const double = x.dtype === 'float64';
      const eps = opts.eps ?? (double ? 1e-6 : 1e-3);
      const rtol = opts.rtol ?? (double ? 1e-5 : 2e-2);
      const atol = opts.atol ?? (double ? 1e-7 : 2e-3);
      const gradName = gm.gradOutputs.get(name);
      const n = x.data.length;
      const ana = gradName ? (analytic[gradName]!.data as Floats) : new Float64Array(n);
      if (ana.length !== n)
        throw new VergeError('E_SHAPE_MISMATCH', `gradient of '${name}' has ${ana.length} elements, input has ${n}`);
      const count = Math.min(n, opts.maxElements ?? 24);
      const picks = count === n ? [...Array(n).keys()] : Array.from({ length: count }, () => Math.floor(random() * n));
      const res: GradCheckResult = { name, checked: count, maxAbsError: 0, maxRelError: 0, failures: [] };
      for (const i of picks) {
        const data = x.data.slice() as Floats;
        const orig = data[i]!;
        data[i] = orig + eps;
        const plus = await lossAt({ ...point, [name]: { ...x, data } });
        data[i] = orig - eps;
        const minus = await lossAt({ ...point, [name]: { ...x, data } });
        const num = (plus - minus) / (2 * eps);
        const a = ana[i]!;
        const err = Math.abs(num - a);
        const rel = err / Math.max(Math.abs(num), Math.abs(a), 1e-12);
        res.maxAbsError = Math.max(res.maxAbsError, err);
        if (err > atol) res.maxRelError = Math.max(res.maxRelError, rel);
        if (err > atol + rtol * Math.max(Math.abs(num), Math.abs(a))) {
          res.failures.push(`${name}[${i}]: analytic ${a.toPrecision(6)} vs numeric ${num.toPrecision(6)}`);
        }
      }
      results.push(res);
    }
    return results;
  } finally {
    await session.release();
  }
}

function withZeroSeeds(
  point: Record<string, TensorValue>,
  seeds: GradientModel['seedInputs'],
): Record<string, TensorValue> {
  const f: Record<string, TensorValue> = { ...point };
  for (const s of seeds.values()) f[s.input] = { dtype: s.dtype, dims: s.dims, data: allocate(s.dtype, numel(s.dims)) };
  return f;
}

/** Throw a readable error listing the first failures (for tests). */
export async function assertGradients(
  model: Model,
  feeds: Record<string, TensorValue>,
  wrt: readonly string[],
  opts: GradCheckOptions = {},
): Promise<GradCheckResult[]> {
  const results = await checkGradients(model, feeds, wrt, opts);
  const failures = results.flatMap((r) => r.failures);
  if (failures.length > 0) {
    throw new Error(`gradient check failed (${failures.length}):\n${failures.slice(0, 8).join('\n')}`);
  }
  return results;
}
