import { reduction } from '../reduce.ts';

/** ReduceProd: reduce over `axes` (an input from opset 18, an attribute before), keepdims default 1. */
export const ReduceProd = reduction('ReduceProd', 18);
