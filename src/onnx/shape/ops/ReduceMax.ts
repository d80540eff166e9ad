import { reduction } from '../reduce.ts';

/** ReduceMax: reduce over `axes` (an input from opset 18, an attribute before), keepdims default 1. */
export const ReduceMax = reduction('ReduceMax', 18);
