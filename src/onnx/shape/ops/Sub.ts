import { arithmeticValue, broadcasting } from '../elementwise.ts';
import type { ShapeRule } from '../rule.ts';

/** Sub: numpy-broadcast over its inputs; output type of the first input. Propagates integer values (shape arithmetic). */
export const Sub: ShapeRule = {
  ...broadcasting('Sub'),
  value: arithmeticValue((a, b) => a - b, 0, false),
};
