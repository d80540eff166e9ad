import { sameAsInput } from '../elementwise.ts';

/** Sin: output has the shape and type of the input. */
export const Sin = sameAsInput('Sin');
