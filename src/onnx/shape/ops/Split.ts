import type { Dim } from '../../ir.ts';
import { axis as normAxis, known } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/**
 * Split along `axis` into the node's outputs: sizes from `split` (input from opset 13, attribute
 * before), else equal parts (opset 18: num_outputs, the last part may be smaller).
 */
export const Split: ShapeRule = {
  op: 'Split',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    const outs = ctx.node.outputs.length;
    if (!x.shape) return Array.from({ length: outs }, () => tensorType(x.dtype));
    const shape = x.shape;
    const a = normAxis(ctx.int('axis', 0), shape.length);
    if (a === undefined) return undefined;
    const total = shape[a]!;
    let sizes: Dim[];
    const given = ctx.opset >= 13 ? (ctx.has(1) ? ctx.numbers(1) : undefined) : ctx.ints('split');
    if (given) sizes = given;
    else if (ctx.opset >= 13 && ctx.has(1)) sizes = new Array<Dim>(outs).fill(null);
    else if (known(total)) {
      const part = Math.ceil(total / outs);
      sizes = Array.from({ length: outs }, (_, i) => Math.max(0, Math.min(part, total - i * part)));
      if (ctx.opset < 18 && total % outs !== 0) sizes = new Array<Dim>(outs).fill(null);
    } else sizes = new Array<Dim>(outs).fill(null);
    return sizes.map((s) =>
      tensorType(
        x.dtype,
        shape.map((d, i) => (i === a ? s : d)),
      ),
    );
  },
};
