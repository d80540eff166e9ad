import { broadcasting } from '../elementwise.ts';

/** PRelu: numpy-broadcast over its inputs; output type of the first input. */
export const PRelu = broadcasting('PRelu');
