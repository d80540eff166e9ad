import { reduction } from '../reduce.ts';

/** ReduceSum: reduce over `axes` (an input from opset 13, an attribute before), keepdims default 1. */
export const ReduceSum = reduction('ReduceSum', 13);
