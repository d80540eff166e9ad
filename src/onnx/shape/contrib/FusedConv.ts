import { Conv } from '../ops/Conv.ts';
import type { ShapeRule } from '../rule.ts';

/** com.microsoft FusedConv (onnxruntime's Conv + activation fusion): Conv's shape. */
export const FusedConv: ShapeRule = { ...Conv, op: 'FusedConv', domain: 'com.microsoft' };
