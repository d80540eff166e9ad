import { sameAsInput } from '../elementwise.ts';

/** Identity: output has the shape and type of the input. */
export const Identity = sameAsInput('Identity');
