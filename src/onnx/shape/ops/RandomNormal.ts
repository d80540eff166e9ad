import { dtypeFromCode } from '../../dtype.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** RandomNormal: `shape` attribute; `dtype` attribute (default float32). */
export const RandomNormal: ShapeRule = {
  op: 'RandomNormal',
  infer: (ctx) => tensorType(dtypeFromCode(ctx.int('dtype', 1)) ?? 'float32', ctx.ints('shape')),
};
