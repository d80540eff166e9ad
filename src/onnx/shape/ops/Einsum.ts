import type { Dim } from '../../ir.ts';
import { broadcast, unify } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/**
 * Einsum: output dims from the equation's labels ('ij,jk->ik'; implicit output: labels seen once,
 * sorted). An ellipsis ('...ii->...i') stands for the leading dims not named by labels; the
 * ellipsis dims of all terms broadcast, and come first in an implicit output.
 */
export const Einsum: ShapeRule = {
  op: 'Einsum',
  infer: (ctx) => {
    const dtype = ctx.dtype(0);
    const eq = ctx.string('equation', '').replace(/\s/g, '');
    if (!dtype || !eq) return dtype && tensorType(dtype);
    const [lhs, rhs] = eq.split('->') as [string, string | undefined];
    const terms = lhs.split(',');
    const dims = new Map<string, Dim>();
    const counts = new Map<string, number>();
    const ellipses: (Dim[] | undefined)[] = [];
    for (let t = 0; t < terms.length; t++) {
      const shape = ctx.shape(t);
      const [before, after] = terms[t]!.split('...') as [string, string | undefined];
      const named = before.length + (after?.length ?? 0);
      if (shape && (after === undefined ? shape.length !== named : shape.length < named)) return undefined;
      const rest = shape ? shape.length - named : undefined;
      if (after !== undefined) ellipses.push(shape ? shape.slice(before.length, before.length + rest!) : undefined);
      const labelled: [string, Dim | undefined][] = [
        ...[...before].map((l, i): [string, Dim | undefined] => [l, shape?.[i]]),
        ...[...(after ?? '')].map((l, i): [string, Dim | undefined] => [l, shape?.[before.length + rest! + i]]),
      ];
      for (const [label, d] of labelled) {
        dims.set(label, unify(dims.get(label), d));
        counts.set(label, (counts.get(label) ?? 0) + 1);
      }
    }
    const ellipsis = ellipses.length > 0 ? broadcast(ellipses) : [];
    const out =
      rhs ??
      (ellipses.length > 0 ? '...' : '') +
        [...counts.keys()]
          .filter((l) => counts.get(l) === 1)
          .sort()
          .join('');
    const [head, tail] = out.split('...') as [string, string | undefined];
    if (tail !== undefined && !ellipsis) return tensorType(dtype);
    const label = (l: string) => dims.get(l) ?? null;
    return tensorType(dtype, [
      ...[...head].map(label),
      ...(tail === undefined ? [] : [...ellipsis!, ...[...tail].map(label)]),
    ]);
  },
};
