import { reduction } from '../reduce.ts';

/** ReduceMin: reduce over `axes` (an input from opset 18, an attribute before), keepdims default 1. */
export const ReduceMin = reduction('ReduceMin', 18);
