import { reduction } from '../reduce.ts';

/** ReduceL2: reduce over `axes` (an input from opset 18, an attribute before), keepdims default 1. */
export const ReduceL2 = reduction('ReduceL2', 18);
