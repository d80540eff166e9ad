/**
 * Shared by the pruning tests: the "switched off" reference a pruned model must equal, and the
 * seed CNN declared at an older opset.
 */
import { cloneModel } from '../../src/onnx/builder.ts';
import type { Model, Tensor } from '../../src/onnx/ir.ts';
import { withMinimumIrVersion } from '../../src/onnx/ir-version.ts';
import type { FilterPruneReport } from '../../src/optimize/prune/structured.ts';

/** Ops a zero channel passes through as a zero channel (with zeroed per-channel shifts). */
const PASS = new Set([
  'Relu',
  'LeakyRelu',
  'Clip',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'Identity',
  'Dropout',
]);

/**
 * The model with the removed channels switched off instead of removed: producer filters and biases
 * zeroed, and along the channels' paths every per-channel shift that would make them non-zero again
 * (BatchNorm bias and mean, depthwise Conv filter and bias, a constant added to them), so those
 * channels are exactly 0 wherever they go. Written independently of the pruner's own tracing; a
 * correctly rewired pruned model must compute the same function.
 */
export function maskedEquivalent(m: Model, report: FilterPruneReport): Model {
  const out = cloneModel(m);
  const g = out.graph;
  const init = (name: string): Tensor | undefined => g.initializers.find((t) => t.name === name);
  const zeroRows = (t: Tensor, axis: number, rows: number[]): void => {
    const d = t.data as Float32Array;
    const c = t.dims[axis]!;
    const inner = t.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    const outer = t.dims.slice(0, axis).reduce((a, b) => a * b, 1);
    for (const r of rows) for (let o = 0; o < outer; o++) d.fill(0, (o * c + r) * inner, (o * c + r + 1) * inner);
  };
  const seen = new Set<string>();
  const walk = (v: string, rows: number[]): void => {
    const key = `${v}:${rows.join(',')}`;
    if (seen.has(key)) return;
    seen.add(key);
    for (const c of g.nodes.filter((n) => n.inputs.includes(v))) {
      if (c.opType === 'BatchNormalization') {
        for (const k of [2, 3]) zeroRows(init(c.inputs[k]!)!, 0, rows);
      } else if (c.opType === 'Conv' && ((c.attributes.group?.value as number | undefined) ?? 1) > 1) {
        zeroRows(init(c.inputs[1]!)!, 0, rows);
        if (c.inputs[2]) zeroRows(init(c.inputs[2])!, 0, rows);
      } else if (c.opType === 'Add') {
        for (const i of c.inputs) {
          const t = i && i !== v ? init(i) : undefined;
          if (t && t.dims.length >= 3) zeroRows(t, t.dims.length - 3, rows);
        }
      } else if (!PASS.has(c.opType)) continue;
      walk(c.outputs[0]!, rows);
    }
  };
  for (const layer of report.layers) {
    const node = g.nodes.find((n) => (n.name || n.outputs[0]) === layer.name)!;
    const transB = node.attributes.transB?.value === 1;
    zeroRows(init(node.inputs[1]!)!, node.opType === 'Conv' || transB ? 0 : 1, layer.removed);
    if (node.inputs[2]) zeroRows(init(node.inputs[2])!, 0, layer.removed);
    walk(node.outputs[0]!, layer.removed);
  }
  return out;
}

/**
 * A model of Conv, Relu, MaxPool, Flatten and Gemm (the seed CNN) declared at an older default
 * opset, with its lowest IR version: those ops mean the same from opset 8 on, except MaxPool's
 * `ceil_mode` (opset 10), dropped below 10 when it is the default 0.
 */
export function atOpset(m: Model, opset: number): Model {
  const out = cloneModel(m);
  out.opsetImports = [{ domain: '', version: opset }];
  if (opset < 10)
    for (const n of out.graph.nodes) {
      const ceil = n.attributes.ceil_mode;
      if (n.opType !== 'MaxPool' || !ceil) continue;
      if (ceil.type !== 'int' || ceil.value !== 0) throw new Error(`${n.name}: ceil_mode needs opset 10`);
      delete n.attributes.ceil_mode;
    }
  return withMinimumIrVersion(out);
}
