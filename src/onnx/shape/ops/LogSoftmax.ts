import { sameAsInput } from '../elementwise.ts';

/** LogSoftmax: output has the shape and type of the input. */
export const LogSoftmax = sameAsInput('LogSoftmax');
