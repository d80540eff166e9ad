import { sameAsInput } from '../elementwise.ts';

/** Softmax: output has the shape and type of the input. */
export const Softmax = sameAsInput('Softmax');
