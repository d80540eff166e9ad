import { arith } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** Tile: each dim multiplied by `repeats` (input 1). */
export const Tile: ShapeRule = {
  op: 'Tile',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    const reps = ctx.numbers(1);
    if (!x.shape) return tensorType(x.dtype);
    if (!reps)
      return tensorType(
        x.dtype,
        x.shape.map(() => null),
      );
    return tensorType(
      x.dtype,
      x.shape.map((d, i) => (reps[i] === 1 ? d : arith((a, b) => a * b, d, reps[i]!))),
    );
  },
};
