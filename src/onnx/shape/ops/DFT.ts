import type { Dim } from '../../ir.ts';
import { axis as normAxis, known } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/**
 * DFT: the input's shape with a last dim of 2 (real, imaginary); along the transformed axis the
 * length is dft_length (input 1) when given, halved to floor(n/2)+1 when onesided. The axis is an
 * attribute (default 1) before opset 20 and input 2 (default -2) from opset 20.
 */
export const DFT: ShapeRule = {
  op: 'DFT',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x?.shape) return x && tensorType(x.dtype);
    const rank = x.shape.length;
    const given = ctx.opset >= 20 ? (ctx.has(2) ? ctx.numbers(2)?.[0] : -2) : ctx.int('axis', 1);
    const a = given === undefined ? undefined : normAxis(given, rank);
    if (a === undefined || a === rank - 1)
      return tensorType(
        x.dtype,
        x.shape.map(() => null),
      );
    const shape: Dim[] = [...x.shape.slice(0, -1), 2];
    let n: Dim = ctx.has(1) ? (ctx.numbers(1)?.[0] ?? null) : x.shape[a]!;
    if (ctx.int('onesided', 0) === 1) n = known(n) ? Math.floor(n / 2) + 1 : null;
    shape[a] = n;
    return tensorType(x.dtype, shape);
  },
};
