import { reduction } from '../reduce.ts';

/** ReduceLogSumExp: reduce over `axes` (an input from opset 18, an attribute before), keepdims default 1. */
export const ReduceLogSumExp = reduction('ReduceLogSumExp', 18);
