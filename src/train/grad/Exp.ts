import type { GradRule } from './rule.ts';

export const Exp: GradRule = { op: 'Exp', grad: (c) => [c.op('Mul', [c.dy(), c.output(0)])] };
