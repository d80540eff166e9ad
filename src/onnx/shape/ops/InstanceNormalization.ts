import { sameAsInput } from '../elementwise.ts';

/** InstanceNormalization: output has the shape and type of the input. */
export const InstanceNormalization = sameAsInput('InstanceNormalization');
