import { recurrentShapes } from '../recurrent.ts';
import type { ShapeRule } from '../rule.ts';

/** RNN: Y and Y_h (see recurrent.ts for the layouts). */
export const RNN: ShapeRule = { op: 'RNN', infer: (ctx) => recurrentShapes(ctx, 1) };
