import { sameAsInput } from '../elementwise.ts';

/** LpNormalization: output has the shape and type of the input. */
export const LpNormalization = sameAsInput('LpNormalization');
