import { reduction } from '../reduce.ts';

/** ReduceLogSum: reduce over `axes` (an input from opset 18, an attribute before), keepdims default 1. */
export const ReduceLogSum = reduction('ReduceLogSum', 18);
