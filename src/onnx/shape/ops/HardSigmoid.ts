import { sameAsInput } from '../elementwise.ts';

/** HardSigmoid: output has the shape and type of the input. */
export const HardSigmoid = sameAsInput('HardSigmoid');
