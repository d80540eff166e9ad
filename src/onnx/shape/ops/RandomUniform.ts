import { dtypeFromCode } from '../../dtype.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** RandomUniform: `shape` attribute; `dtype` attribute (default float32). */
export const RandomUniform: ShapeRule = {
  op: 'RandomUniform',
  infer: (ctx) => tensorType(dtypeFromCode(ctx.int('dtype', 1)) ?? 'float32', ctx.ints('shape')),
};
