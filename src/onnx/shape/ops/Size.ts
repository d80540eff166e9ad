import { product } from '../dims.ts';
import { tensorType, type ShapeRule, type SymbolicValue } from '../rule.ts';

/** Size: int64 scalar, the element count. */
export const Size: ShapeRule = {
  op: 'Size',
  infer: () => tensorType('int64', []),
  value: (ctx): SymbolicValue | undefined => {
    const s = ctx.shape(0);
    if (!s) return undefined;
    const n = product(s);
    return typeof n === 'number' ? { values: [n], scalar: true } : undefined;
  },
};
