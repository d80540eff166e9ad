import type { GradRule } from './rule.ts';

/** dX = Transpose(dY) with the inverse permutation. */
export const Transpose: GradRule = {
  op: 'Transpose',
  grad: (c) => {
    const rank = c.rank(c.input(0));
    const perm = c.attrInts('perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    const inverse = new Array<number>(rank);
    perm.forEach((p, i) => (inverse[p] = i));
    return [c.op('Transpose', [c.dy()], { perm: inverse })];
  },
};
