import { sameAsInput } from '../elementwise.ts';

/** Scatter: the result has the shape of `data`. */
export const Scatter = sameAsInput('Scatter');
