import type { Dim, TensorType } from '../../ir.ts';
import { axis as normAxis } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/**
 * Scan (opset >= 9): N state inputs then M scan inputs; the body sees the states and one slice of
 * each scan input (its scan axis removed) and returns N states and K per-iteration outputs, which
 * are stacked along scan_output_axes (default 0) with the sequence length.
 * Opset 8's batched form (sequence_lens first) is left unknown.
 */
export const Scan: ShapeRule = {
  op: 'Scan',
  infer: (ctx) => {
    const body = ctx.attr('body');
    if (body?.type !== 'graph' || ctx.opset < 9) return undefined;
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
