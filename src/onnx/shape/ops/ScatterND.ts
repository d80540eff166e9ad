import { sameAsInput } from '../elementwise.ts';

/** ScatterND: the result has the shape of `data`. */
export const ScatterND = sameAsInput('ScatterND');
