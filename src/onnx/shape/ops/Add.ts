import { arithmeticValue, broadcasting } from '../elementwise.ts';
import type { ShapeRule } from '../rule.ts';

/** Add: numpy-broadcast over its inputs; output type of the first input. Propagates integer values (shape arithmetic). */
export const Add: ShapeRule = {
  ...broadcasting('Add'),
  value: arithmeticValue((a, b) => a + b, 0, true),
};
