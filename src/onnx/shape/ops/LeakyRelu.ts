import { sameAsInput } from '../elementwise.ts';

/** LeakyRelu: output has the shape and type of the input. */
export const LeakyRelu = sameAsInput('LeakyRelu');
