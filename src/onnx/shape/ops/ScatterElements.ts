import { sameAsInput } from '../elementwise.ts';

/** ScatterElements: the result has the shape of `data`. */
export const ScatterElements = sameAsInput('ScatterElements');
