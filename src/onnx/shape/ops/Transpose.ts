import { tensorType, type ShapeRule } from '../rule.ts';

/** Transpose: dims permuted by `perm` (default: reversed). */
export const Transpose: ShapeRule = {
  op: 'Transpose',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    if (!x.shape) return tensorType(x.dtype);
    const shape = x.shape;
    const perm = ctx.ints('perm') ?? shape.map((_, i) => shape.length - 1 - i);
    if (perm.length !== shape.length) return undefined;
    return tensorType(
      x.dtype,
      perm.map((p) => shape[p] ?? null),
    );
  },
};
