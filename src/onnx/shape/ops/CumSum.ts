import { sameAsInput } from '../elementwise.ts';

/** CumSum: output has the shape and type of the input. */
export const CumSum = sameAsInput('CumSum');
