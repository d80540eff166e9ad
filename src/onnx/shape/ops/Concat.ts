import type { Dim } from '../../ir.ts';
import { axis as normAxis, known, unify } from '../dims.ts';
import { tensorType, type ShapeRule, type SymbolicValue } from '../rule.ts';

/** Concat: dims along `axis` add up; the others agree. Propagates known 1-D values. */
export const Concat: ShapeRule = {
  op: 'Concat',
  infer: (ctx) => {
    const n = ctx.node.inputs.length;
    const dtype = Array.from({ length: n }, (_, i) => ctx.dtype(i)).find((d) => d !== undefined);
    if (!dtype) return undefined;
    const shapes = Array.from({ length: n }, (_, i) => ctx.shape(i));
    const ranked = shapes.find((s) => s !== undefined);
    if (!ranked) return tensorType(dtype);
    const a = normAxis(ctx.int('axis', 0), ranked.length);
    if (a === undefined) return undefined;
    const out: Dim[] = ranked.map((_, i) => {
      if (i === a) {
        if (shapes.some((s) => !s)) return null;
        const parts = shapes.map((s) => s![i]!);
        return parts.every(known) ? parts.reduce((x, y) => (x as number) + (y as number), 0) : null;
      }
      return shapes.reduce<Dim>((acc, s) => unify(acc, s?.[i]), null);
    });
    return tensorType(dtype, out);
  },
  value: (ctx): SymbolicValue | undefined => {
    const values: Dim[] = [];
    for (let i = 0; i < ctx.node.inputs.length; i++) {
      const v = ctx.value(i);
      if (!v) return undefined;
      values.push(...v.values);
    }
    return { values, scalar: false };
  },
};
