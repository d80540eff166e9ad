import { sameAsInput } from '../elementwise.ts';

/** Sign: output has the shape and type of the input. */
export const Sign = sameAsInput('Sign');
