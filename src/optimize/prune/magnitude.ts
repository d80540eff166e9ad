/**
 * Unstructured magnitude pruning: the smallest-magnitude weights of Conv, Gemm and MatMul are set to
 * zero, either with one threshold over all layers (global) or to the same sparsity in each layer.
 */
import { VergeError } from '../../errors.ts';
import { cloneModel, type Model, type Tensor, isDefaultDomain } from '../../onnx/browser.ts';

export type PruneScope = 'global' | 'layer';

export interface MagnitudePruneOptions {
  /** Fraction of prunable weights to zero, in [0, 1). */
  sparsity: number;
  scope?: PruneScope;
  /** Weights with fewer elements are left dense (e.g. a 1-channel first conv); default 0. */
  minElements?: number;
}

export interface LayerSparsity {
  name: string;
  op: string;
  elements: number;
  zeros: number;
  sparsity: number;
}

export interface MagnitudePruneReport {
  layers: LayerSparsity[];
  /** Zeros / elements over all prunable weights. */
  sparsity: number;
}

/** Weight initializers (float32, constant) of Conv/Gemm/MatMul nodes: what pruning may zero. */
export function prunableWeights(model: Model): { tensor: Tensor; op: string }[] {
  const g = model.graph;
  const inputs = new Set(g.inputs.map((i) => i.name));
  const byName = new Map(g.initializers.map((t) => [t.name, t]));
  const seen = new Set<string>();
  const out: { tensor: Tensor; op: string }[] = [];
  for (const n of g.nodes) {
    if (!isDefaultDomain(n.domain) || !['Conv', 'Gemm', 'MatMul'].includes(n.opType)) continue;
    const w = n.inputs[1];
    if (!w || inputs.has(w) || seen.has(w)) continue;
    const t = byName.get(w);
    if (!t || t.dtype !== 'float32' || !(t.data instanceof Float32Array)) continue;
    seen.add(w);
    out.push({ tensor: t, op: n.opType });
  }
  return out;
}

export function checkSparsity(sparsity: number): void {
  if (!(sparsity >= 0 && sparsity < 1)) {
    throw new VergeError('E_BAD_ARGUMENT', `sparsity must be a fraction in [0, 1), got ${sparsity}`);
  }
}

/** Zero the `count` smallest |w| of `data` in place (ties broken by position, so exactly `count`). */
function zeroSmallest(data: Float32Array, count: number): void {
  if (count <= 0) return;
  const order = Array.from(data.keys()).sort((a, b) => Math.abs(data[a]!) - Math.abs(data[b]!) || a - b);
  for (let i = 0; i < count && i < order.length; i++) data[order[i]!] = 0;
}

export function pruneMagnitude(
  model: Model,
  opts: MagnitudePruneOptions,
): { model: Model; report: MagnitudePruneReport } {
  checkSparsity(opts.sparsity);
  const out = cloneModel(model);
  const weights = prunableWeights(out).filter((w) => w.tensor.data.length >= (opts.minElements ?? 0));
  if (weights.length === 0)
    throw new VergeError('E_UNSUPPORTED', 'the model has no Conv, Gemm or MatMul weights to prune');
  if ((opts.scope ?? 'global') === 'layer') {
    for (const { tensor } of weights) {
      const d = tensor.data as Float32Array;
      zeroSmallest(d, Math.round(opts.sparsity * d.length));
    }
  } else {
    // One threshold over every prunable weight: layers with many small weights lose more.
    const total = weights.reduce((s, w) => s + w.tensor.data.length, 0);
    const all = new Float32Array(total);
    let off = 0;
    for (const { tensor } of weights) {
      const d = tensor.data as Float32Array;
      for (let i = 0; i < d.length; i++) all[off + i] = Math.abs(d[i]!);
      off += d.length;
    }
    const k = Math.round(opts.sparsity * total);
    if (k > 0) {
      const sorted = Float32Array.from(all).sort();
      const threshold = sorted[k - 1]!;
      // Below the threshold: zero. At it: zero only as many as needed to reach exactly k.
      let below = 0;
      for (let i = 0; i < total; i++) if (all[i]! < threshold) below++;
      let atBudget = k - below;
      for (const { tensor } of weights) {
        const d = tensor.data as Float32Array;
        for (let i = 0; i < d.length; i++) {
          const a = Math.abs(d[i]!);
          if (a < threshold) d[i] = 0;
          else if (a === threshold && atBudget > 0) {
            d[i] = 0;
            atBudget--;
          }
        }
      }
    }
  }
  return { model: out, report: sparsityReport(out) };
}

/** Current zero fraction of each prunable weight. */
export function sparsityReport(model: Model): MagnitudePruneReport {
  const layers = prunableWeights(model).map(({ tensor, op }) => {
    const d = tensor.data as Float32Array;
    let zeros = 0;
    for (let i = 0; i < d.length; i++) if (d[i] === 0) zeros++;
    return { name: tensor.name, op, elements: d.length, zeros, sparsity: zeros / d.length };
  });
  const elements = layers.reduce((s, l) => s + l.elements, 0);
  const zeros = layers.reduce((s, l) => s + l.zeros, 0);
  return { layers, sparsity: elements ? zeros / elements : 0 };
}

/** Keep-masks (1 = weight alive) of every prunable weight, to hold pruned weights at zero while fine-tuning. */
export function pruningMasks(model: Model): Map<string, Uint8Array> {
  const masks = new Map<string, Uint8Array>();
  for (const { tensor } of prunableWeights(model)) {
    const d = tensor.data as Float32Array;
    masks.set(
      tensor.name,
      Uint8Array.from(d, (v) => (v === 0 ? 0 : 1)),
    );
  }
  return masks;
}

/**
 * Polynomial sparsity schedule (Zhu & Gupta, "To prune, or not to prune", 2017):
 * s_t = s_f + (s_i - s_f) * (1 - t/T)^3, pruning fast while many weights are redundant, slowly near the end.
 */
export function polynomialSparsity(
  step: number,
  totalSteps: number,
  finalSparsity: number,
  initialSparsity = 0,
  power = 3,
): number {
  if (totalSteps <= 0) return finalSparsity;
  const t = Math.min(1, Math.max(0, step / totalSteps));
  return finalSparsity + (initialSparsity - finalSparsity) * (1 - t) ** power;
}
