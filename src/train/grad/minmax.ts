/** Shared by Max and Min: the gradient goes to the selected input (ties to the first). */
import type { GradContext } from './rule.ts';

export function selectGrad(c: GradContext, firstWins: 'GreaterOrEqual' | 'LessOrEqual'): (string | undefined)[] {
  if (c.node.inputs.length === 1) return [c.dy()];
  if (c.node.inputs.length !== 2) c.fail('only 1 or 2 inputs are differentiable');
  const [a, b] = [c.input(0), c.input(1)];
  const takeA = c.op(firstWins, [a, b]);
  const zero = c.scalar(0);
  return [
    c.needsGrad(0) ? c.sumToShape(c.op('Where', [takeA, c.dy(), zero]), a) : undefined,
    c.needsGrad(1) ? c.sumToShape(c.op('Where', [takeA, zero, c.dy()]), b) : undefined,
  ];
}
