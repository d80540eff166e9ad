import type { GradRule } from './rule.ts';

export const Identity: GradRule = { op: 'Identity', grad: (c) => [c.dy()] };
