import type { GradRule } from './rule.ts';

export const Neg: GradRule = { op: 'Neg', grad: (c) => [c.op('Neg', [c.dy()])] };
