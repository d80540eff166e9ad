import { axis as normAxis, product } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** Flatten: [prod(dims before axis), prod(dims from axis)] (axis default 1, may be negative or = rank). */
export const Flatten: ShapeRule = {
  op: 'Flatten',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    if (!x.shape) return tensorType(x.dtype, [null, null]);
    const r = x.shape.length;
    const raw = ctx.int('axis', 1);
    const a = raw === r ? r : normAxis(raw, r);
    if (a === undefined) return undefined;
    return tensorType(x.dtype, [product(x.shape.slice(0, a)), product(x.shape.slice(a))]);
  },
};
