import { recurrentShapes } from '../recurrent.ts';
import type { ShapeRule } from '../rule.ts';

/** GRU: Y and Y_h (see recurrent.ts for the layouts). */
export const GRU: ShapeRule = { op: 'GRU', infer: (ctx) => recurrentShapes(ctx, 1) };
