import type { GradRule } from './rule.ts';

export const Expand: GradRule = { op: 'Expand', grad: (c) => [c.sumToShape(c.dy(), c.input(0))] };
