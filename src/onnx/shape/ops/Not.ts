import { sameAsInput } from '../elementwise.ts';

/** Not: output has the shape and type of the input. */
export const Not = sameAsInput('Not');
