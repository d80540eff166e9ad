import { sameAsInput } from '../elementwise.ts';

/** GroupNormalization: output has the shape and type of X. */
export const GroupNormalization = sameAsInput('GroupNormalization');
