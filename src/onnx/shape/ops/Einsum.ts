import type { Dim } from '../../ir.ts';
import { unify } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/**
 * Einsum: output dims from the equation's labels ('ij,jk->ik'; implicit output: labels seen once,
 * sorted). Equations with an ellipsis are left unknown.
 */
export const Einsum: ShapeRule = {
  op: 'Einsum',
  infer: (ctx) => {
    const dtype = ctx.dtype(0);
    const eq = ctx.string('equation', '').replace(/\s/g, '');
    if (!dtype || !eq || eq.includes('.')) return dtype && tensorType(dtype);
    const [lhs, rhs] = eq.split('->') as [string, string | undefined];
    const terms = lhs.split(',');
    const dims = new Map<string, Dim>();
    const counts = new Map<string, number>();
    for (let t = 0; t < terms.length; t++) {
      const shape = ctx.shape(t);
      const term = terms[t]!;
      if (shape && shape.length !== term.length) return undefined;
      [...term].forEach((label, i) => {
        dims.set(label, unify(dims.get(label), shape?.[i]));
        counts.set(label, (counts.get(label) ?? 0) + 1);
      });
    }
    const out =
      rhs ??
      [...counts.keys()]
        .filter((l) => counts.get(l) === 1)
        .sort()
        .join('');
    return tensorType(
      dtype,
      [...out].map((l) => dims.get(l) ?? null),
    );
  },
};
