import { sameAsInput } from '../elementwise.ts';

/** Softsign: output has the shape and type of the input. */
export const Softsign = sameAsInput('Softsign');
