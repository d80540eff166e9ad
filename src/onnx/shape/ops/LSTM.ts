import { recurrentShapes } from '../recurrent.ts';
import type { ShapeRule } from '../rule.ts';

/** LSTM: Y, Y_h and Y_c (see recurrent.ts for the layouts). */
export const LSTM: ShapeRule = { op: 'LSTM', infer: (ctx) => recurrentShapes(ctx, 2) };
