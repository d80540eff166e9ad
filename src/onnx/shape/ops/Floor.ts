import { sameAsInput } from '../elementwise.ts';

/** Floor: output has the shape and type of the input. */
export const Floor = sameAsInput('Floor');
