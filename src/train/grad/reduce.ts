/** Reduction axes of a ReduceSum/ReduceMean node (attribute before `inputSince`, input after). */
import type { GradContext } from './rule.ts';

export function reduceAxes(c: GradContext, inputSince: number): number[] {
  const rank = c.rank(c.input(0));
  let axes: number[] | undefined;
  if (c.opset >= inputSince) {
    if (c.has(1)) {
      axes = c.constInts(c.input(1));
      if (!axes) c.fail('reduction axes must be a constant to differentiate');
    }
  } else axes = c.attrInts('axes');
  if (!axes || axes.length === 0) {
    if (c.attrInt('noop_with_empty_axes', 0) === 1) return [];
    axes = Array.from({ length: rank }, (_, i) => i);
  }
  return axes.map((a) => c.axis(a, rank)).sort((a, b) => a - b);
}
