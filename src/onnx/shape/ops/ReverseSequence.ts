import { sameAsInput } from '../elementwise.ts';

/** ReverseSequence: output has the shape and type of the input. */
export const ReverseSequence = sameAsInput('ReverseSequence');
