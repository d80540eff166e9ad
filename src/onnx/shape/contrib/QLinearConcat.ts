import type { Dim } from '../../ir.ts';
import { axis as normAxis, known, unify } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** com.microsoft QLinearConcat(Y_scale, Y_zp, (X, X_scale, X_zp)...): Concat of the X inputs along `axis`. */
export const QLinearConcat: ShapeRule = {
  op: 'QLinearConcat',
  domain: 'com.microsoft',
  infer: (ctx) => {
    const dtype = ctx.dtype(1) ?? ctx.dtype(2);
    if (!dtype) return undefined;
    const shapes: (Dim[] | undefined)[] = [];
    for (let i = 2; i < ctx.node.inputs.length; i += 3) shapes.push(ctx.shape(i));
    const ranked = shapes.find((s) => s !== undefined);
    if (!ranked) return tensorType(dtype);
    const a = normAxis(ctx.int('axis', 0), ranked.length);
    if (a === undefined) return undefined;
    return tensorType(
      dtype,
      ranked.map((_, i) => {
        if (i !== a) return shapes.reduce<Dim>((acc, s) => unify(acc, s?.[i]), null);
        const parts = shapes.map((s) => s?.[i]);
        return parts.every(known) ? (parts as number[]).reduce((x, y) => x + y, 0) : null;
      }),
    );
  },
};
