import { known } from '../dims.ts';
import { sameAsInput } from '../elementwise.ts';
import type { ShapeRule, SymbolicValue } from '../rule.ts';

/** Neg: output like the input; negates known integer values (axis arithmetic in expanded functions). */
export const Neg: ShapeRule = {
  ...sameAsInput('Neg'),
  value: (ctx): SymbolicValue | undefined => {
    const v = ctx.value(0);
    return v && { values: v.values.map((d) => (known(d) ? -d : null)), scalar: v.scalar };
  },
};
