import type { Dim } from '../../ir.ts';
import { axis as normAxis } from '../dims.ts';
import { tensorType, type ShapeRule, type SymbolicValue } from '../rule.ts';

/** Unsqueeze: insert 1s at `axes` of the output (input from opset 13, attribute before). */
export const Unsqueeze: ShapeRule = {
  op: 'Unsqueeze',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    const raw = ctx.opset >= 13 ? ctx.numbers(1) : ctx.ints('axes');
    const count = ctx.opset >= 13 ? ctx.shape(1)?.[0] : undefined;
    if (x.shape && !raw && typeof count === 'number')
      return tensorType(x.dtype, new Array<Dim>(x.shape.length + count).fill(null));
    if (!x.shape || !raw) return tensorType(x.dtype);
    const rank = x.shape.length + raw.length;
    const axes = new Set(raw.map((a) => normAxis(a, rank)));
    if (axes.has(undefined) || axes.size !== raw.length) return undefined;
    const out: Dim[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) out.push(axes.has(i) ? 1 : x.shape[j++]!);
    return tensorType(x.dtype, out);
  },
  value: (ctx): SymbolicValue | undefined => {
    const v = ctx.value(0);
    return v && v.scalar ? { values: v.values, scalar: false } : undefined;
  },
};
