import type { GradRule } from './rule.ts';

export const Abs: GradRule = { op: 'Abs', grad: (c) => [c.op('Mul', [c.dy(), c.op('Sign', [c.input(0)])])] };
