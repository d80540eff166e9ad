import type { GradRule } from './rule.ts';

export const Log: GradRule = { op: 'Log', grad: (c) => [c.op('Div', [c.dy(), c.input(0)])] };
