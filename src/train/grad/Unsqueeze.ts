import type { GradRule } from './rule.ts';

/** A view change: the gradient is dY reshaped back to the input's shape. */
export const Unsqueeze: GradRule = { op: 'Unsqueeze', grad: (c) => [c.reshapeLike(c.dy(), c.input(0))] };
