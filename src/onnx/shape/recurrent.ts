/** Output shapes of the recurrent ops (RNN, GRU, LSTM), which share their input/output layout. */
import type { Dim } from '../ir.ts';
import { tensorType, type InferResult, type ShapeContext } from './rule.ts';

/**
 * X: [seq, batch, input] (layout 0) or [batch, seq, input] (layout 1); W: [dirs, gates*H, input].
 * Y: [seq, dirs, batch, H] or [batch, seq, dirs, H]; Y_h (and LSTM's Y_c): [dirs, batch, H] or
 * [batch, dirs, H].
 */
export function recurrentShapes(ctx: ShapeContext, states: number): InferResult {
  const x = ctx.input(0);
  const dtype = x?.dtype ?? ctx.dtype(1);
  if (!dtype) return undefined;
  const layout = ctx.int('layout', 0);
  const dirs = ctx.string('direction', 'forward') === 'bidirectional' ? 2 : 1;
  const hidden: Dim = ctx.int('hidden_size') ?? ctx.shape(2)?.[2] ?? null;
  const seq: Dim = x?.shape?.[layout === 0 ? 0 : 1] ?? null;
  const batch: Dim = x?.shape?.[layout === 0 ? 1 : 0] ?? null;
  const y = layout === 0 ? [seq, dirs, batch, hidden] : [batch, seq, dirs, hidden];
  const state = layout === 0 ? [dirs, batch, hidden] : [batch, dirs, hidden];
  return [tensorType(dtype, y), ...Array.from({ length: states }, () => tensorType(dtype, [...state]))];
}
