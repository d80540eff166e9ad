import { Gemm } from '../ops/Gemm.ts';
import type { ShapeRule } from '../rule.ts';

/** com.microsoft FusedGemm (Gemm + activation): Gemm's shape. */
export const FusedGemm: ShapeRule = { ...Gemm, op: 'FusedGemm', domain: 'com.microsoft' };
