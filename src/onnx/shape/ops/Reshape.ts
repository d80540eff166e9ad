import type { Dim } from '../../ir.ts';
import { known } from '../dims.ts';
import { tensorType, type ShapeRule, type SymbolicValue } from '../rule.ts';

/**
 * Target dims of Reshape: 0 copies the input dim (unless allowzero), -1 takes what is left.
 * For -1, symbolic dims that appear on both sides cancel, so [batch, 3, 4] -> [0, -1] gives
 * [batch, 12] and [batch, 12] -> [-1, 3, 4] gives [batch, 3, 4].
 */
export function reshapeDims(input: Dim[] | undefined, target: Dim[], allowZero: boolean): Dim[] {
  const out = target.map((d, i) => (d === 0 && !allowZero ? (input?.[i] ?? null) : d));
  const inferIndex = out.indexOf(-1);
  if (inferIndex < 0) return out;
  if (!input) {
    out[inferIndex] = null;
    return out;
  }
  let inNum = 1;
  const inSyms: Dim[] = [];
  for (const d of input) {
    if (known(d)) inNum *= d;
    else inSyms.push(d);
  }
  let outNum = 1;
  const outSyms: Dim[] = [];
  out.forEach((d, i) => {
    if (i === inferIndex) return;
    if (known(d)) outNum *= d;
    else outSyms.push(d);
  });
  // cancel symbols present on both sides (null never cancels)
  for (let i = outSyms.length - 1; i >= 0; i--) {
    const s = outSyms[i];
    const j = typeof s === 'string' ? inSyms.indexOf(s) : -1;
    if (j >= 0) {
      inSyms.splice(j, 1);
      outSyms.splice(i, 1);
    }
  }
  if (outSyms.length > 0 || outNum === 0) out[inferIndex] = null;
  else if (inSyms.length === 0) out[inferIndex] = inNum / outNum;
  else if (inSyms.length === 1 && inNum === outNum) out[inferIndex] = inSyms[0]!;
  else out[inferIndex] = null;
  return out;
}

/** Reshape: target shape from input 1 (opset >= 5) or the `shape` attribute (older). */
export const Reshape: ShapeRule = {
  op: 'Reshape',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    const target: Dim[] | undefined = ctx.opset < 5 ? ctx.ints('shape') : ctx.value(1)?.values;
    if (!target) {
      const rank = ctx.shape(1)?.[0];
      return tensorType(x.dtype, known(rank) ? new Array<Dim>(rank).fill(null) : undefined);
    }
    return tensorType(x.dtype, reshapeDims(x.shape, target, ctx.int('allowzero', 0) === 1));
  },
  value: (ctx): SymbolicValue | undefined => {
    const v = ctx.value(0);
    return v && ctx.value(1)?.values.length === 1 ? { values: v.values, scalar: false } : undefined;
  },
};
