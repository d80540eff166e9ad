import { sameAsInput } from '../elementwise.ts';

/** Asin: output has the shape and type of the input. */
export const Asin = sameAsInput('Asin');
