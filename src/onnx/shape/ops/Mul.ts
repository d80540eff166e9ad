import { arithmeticValue, broadcasting } from '../elementwise.ts';
import type { ShapeRule } from '../rule.ts';

/** Mul: numpy-broadcast over its inputs; output type of the first input. Propagates integer values (shape arithmetic). */
export const Mul: ShapeRule = {
  ...broadcasting('Mul'),
  value: arithmeticValue((a, b) => a * b, 1, true),
};
