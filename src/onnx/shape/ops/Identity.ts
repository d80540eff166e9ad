import { sameAsInput } from '../elementwise.ts';
import type { ShapeRule } from '../rule.ts';

/** Identity: output has the shape and type of the input; a tracked value passes through. */
export const Identity: ShapeRule = { ...sameAsInput('Identity'), value: (ctx) => ctx.value(0) };
