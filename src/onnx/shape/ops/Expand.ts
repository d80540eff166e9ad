import type { Dim } from '../../ir.ts';
import { broadcast, known } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** Expand: numpy broadcast of the input's shape with the target shape (input 1's value). */
export const Expand: ShapeRule = {
  op: 'Expand',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    const target = ctx.value(1)?.values;
    if (target) {
      // a target dim of 1 keeps the input's dim; otherwise the target dim (which may be symbolic)
      return tensorType(x.dtype, broadcast([x.shape, target.map((d): Dim => (d === -1 ? null : d))]));
    }
    const len = ctx.shape(1)?.[0];
    if (!known(len) || !x.shape) return tensorType(x.dtype);
    return tensorType(x.dtype, new Array<Dim>(Math.max(len, x.shape.length)).fill(null));
  },
};
