import { arithmeticValue, broadcasting } from '../elementwise.ts';
import type { ShapeRule } from '../rule.ts';

/** Div: numpy-broadcast over its inputs; output type of the first input. Propagates integer values (shape arithmetic). */
export const Div: ShapeRule = {
  ...broadcasting('Div'),
  value: arithmeticValue((a, b) => Math.trunc(a / b), 1, false),
};
