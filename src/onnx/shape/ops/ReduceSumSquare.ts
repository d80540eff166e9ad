import { reduction } from '../reduce.ts';

/** ReduceSumSquare: reduce over `axes` (an input from opset 18, an attribute before), keepdims default 1. */
export const ReduceSumSquare = reduction('ReduceSumSquare', 18);
