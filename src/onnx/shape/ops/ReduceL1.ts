import { reduction } from '../reduce.ts';

/** ReduceL1: reduce over `axes` (an input from opset 18, an attribute before), keepdims default 1. */
export const ReduceL1 = reduction('ReduceL1', 18);
