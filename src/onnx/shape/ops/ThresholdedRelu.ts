import { sameAsInput } from '../elementwise.ts';

/** ThresholdedRelu: output has the shape and type of the input. */
export const ThresholdedRelu = sameAsInput('ThresholdedRelu');
