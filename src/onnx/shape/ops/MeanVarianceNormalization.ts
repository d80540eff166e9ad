import { sameAsInput } from '../elementwise.ts';

/** MeanVarianceNormalization: output has the shape and type of the input. */
export const MeanVarianceNormalization = sameAsInput('MeanVarianceNormalization');
