import type { Dim, Graph, TensorType } from '../../ir.ts';
import { axis as normAxis } from '../dims.ts';
import { tensorType, type ShapeContext, type ShapeRule } from '../rule.ts';

/**
 * Scan (opset >= 9): N state inputs then M scan inputs; the body sees the states and one slice of
 * each scan input (its scan axis removed) and returns N states and K per-iteration outputs, which
 * are stacked along scan_output_axes (default 0) with the sequence length.
 * Opset 8's batched form: sequence_lens (optional) first, every state and scan input has a leading
 * batch dim and scan inputs scan along axis 1; outputs keep the batch dim (scan outputs [batch, seq, ...]).
 */
export const Scan: ShapeRule = {
  op: 'Scan',
  infer: (ctx) => {
    const body = ctx.attr('body');
    if (body?.type !== 'graph') return undefined;
    if (ctx.opset < 9) return scan8(ctx, body.value);
    const m = ctx.int('num_scan_inputs', 0);
    const n = ctx.node.inputs.length - m;
    const inAxes = ctx.ints('scan_input_axes') ?? new Array<number>(m).fill(0);
    const outAxes = ctx.ints('scan_output_axes');
    let seq: Dim = null;
    const inputs: (TensorType | undefined)[] = [];
    for (let i = 0; i < n; i++) inputs.push(ctx.input(i));
    for (let j = 0; j < m; j++) {
      const t = ctx.input(n + j);
      const s = t?.shape;
      const a = s ? normAxis(inAxes[j]!, s.length) : undefined;
      if (s && a !== undefined) {
        if (j === 0) seq = s[a]!;
        inputs.push(
          tensorType(
            t.dtype,
            s.filter((_, i) => i !== a),
          ),
        );
      } else inputs.push(t && tensorType(t.dtype));
    }
    const outs = ctx.subgraph(body.value, inputs);
    return ctx.node.outputs.map((_, i) => {
      const t = outs[i];
      if (i < n) return t ?? ctx.input(i);
      if (!t?.shape) return t && tensorType(t.dtype);
      const rank = t.shape.length + 1;
      const a = normAxis(outAxes?.[i - n] ?? 0, rank) ?? 0;
      const shape = [...t.shape];
      shape.splice(a, 0, seq);
      return tensorType(t.dtype, shape);
    });
  },
};

/** Opset 8 Scan: inputs [sequence_lens?, states [B, ...], scan inputs [B, S, ...]]. */
function scan8(ctx: ShapeContext, body: Graph): (TensorType | undefined)[] {
  const m = ctx.int('num_scan_inputs', 0);
  const n = ctx.node.inputs.length - 1 - m;
  const drop = (i: number, k: number): TensorType | undefined => {
    const t = ctx.input(i);
    return t?.shape && t.shape.length >= k ? tensorType(t.dtype, t.shape.slice(k)) : t && tensorType(t.dtype);
  };
  const inputs: (TensorType | undefined)[] = [];
  for (let i = 0; i < n; i++) inputs.push(drop(1 + i, 1));
  for (let j = 0; j < m; j++) inputs.push(drop(1 + n + j, 2));
  const first = ctx.shape(1 + n);
  const batch: Dim = first?.[0] ?? ctx.shape(1)?.[0] ?? null;
  const seq: Dim = first?.[1] ?? null;
  const outs = ctx.subgraph(body, inputs);
  return ctx.node.outputs.map((_, i) => {
    const t = outs[i];
    if (!t?.shape) return i < n ? (ctx.input(1 + i) ?? (t && tensorType(t.dtype))) : t && tensorType(t.dtype);
    return tensorType(t.dtype, i < n ? [batch, ...t.shape] : [batch, seq, ...t.shape]);
  });
}
