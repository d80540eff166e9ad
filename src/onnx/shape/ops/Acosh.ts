import { sameAsInput } from '../elementwise.ts';

/** Acosh: output has the shape and type of the input. */
export const Acosh = sameAsInput('Acosh');
