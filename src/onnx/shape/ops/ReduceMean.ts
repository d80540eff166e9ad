import { reduction } from '../reduce.ts';

/** ReduceMean: reduce over `axes` (an input from opset 18, an attribute before), keepdims default 1. */
export const ReduceMean = reduction('ReduceMean', 18);
