import type { Dim } from '../../ir.ts';
import { axis as normAxis, known } from '../dims.ts';
import { tensorType, type ShapeContext, type ShapeRule } from '../rule.ts';

/** A float tensor's values when input i is a constant (scales). */
export function constantFloats(ctx: ShapeContext, i: number): number[] | undefined {
  const c = ctx.constant(i);
  if (!c || c.dtype === 'string' || c.storage === 'external') return undefined;
  return Array.from(c.data as ArrayLike<number | bigint>, Number);
}

/** Resize output dims from `sizes` or floor(dim * scale), on all axes or on `axes` (opset 18). */
export function resizedShape(
  x: Dim[],
  scales: number[] | undefined,
  sizes: number[] | undefined,
  axes?: number[],
): Dim[] | undefined {
  const ax = axes ?? x.map((_, i) => i);
  const out = [...x];
  for (let j = 0; j < ax.length; j++) {
    const i = normAxis(ax[j]!, x.length);
    if (i === undefined) return undefined;
    if (sizes) out[i] = sizes[j] ?? null;
    else if (scales) out[i] = scales[j] === 1 ? x[i]! : known(x[i]) ? Math.floor(x[i] * scales[j]!) : null;
    else out[i] = null;
  }
  return out;
}

/**
 * Resize: inputs (X, scales) at opset 10, (X, roi, scales, sizes) from 11. keep_aspect_ratio_policy
 * (opset 18) other than 'stretch' changes the sizes at run time: then only the rank is known.
 */
export const Resize: ShapeRule = {
  op: 'Resize',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    if (!x.shape) return tensorType(x.dtype);
    const scalesInput = ctx.opset < 11 ? 1 : 2;
    const scales = ctx.has(scalesInput) ? constantFloats(ctx, scalesInput) : undefined;
    const sizes = ctx.opset >= 11 && ctx.has(3) ? ctx.numbers(3) : undefined;
    const policy = ctx.string('keep_aspect_ratio_policy', 'stretch');
    const usable = (sizes && sizes.length > 0) || (scales && scales.length > 0);
    if (!usable || (sizes && policy !== 'stretch'))
      return tensorType(
        x.dtype,
        x.shape.map(() => null),
      );
    return tensorType(
      x.dtype,
      resizedShape(x.shape, scales?.length ? scales : undefined, sizes?.length ? sizes : undefined, ctx.ints('axes')),
    );
  },
};
