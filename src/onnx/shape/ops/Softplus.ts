import { sameAsInput } from '../elementwise.ts';

/** Softplus: output has the shape and type of the input. */
export const Softplus = sameAsInput('Softplus');
