import { sameAsInput } from '../elementwise.ts';

/** Log: output has the shape and type of the input. */
export const Log = sameAsInput('Log');
