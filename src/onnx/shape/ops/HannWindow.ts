import { dtypeFromCode } from '../../dtype.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** HannWindow: 1-D of `size` (input 0's value); output_datatype (default float32). */
export const HannWindow: ShapeRule = {
  op: 'HannWindow',
  infer: (ctx) => tensorType(dtypeFromCode(ctx.int('output_datatype', 1)) ?? 'float32', [ctx.numbers(0)?.[0] ?? null]),
};
