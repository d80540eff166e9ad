import { sameAsInput } from '../elementwise.ts';

/** HardSwish: output has the shape and type of the input. */
export const HardSwish = sameAsInput('HardSwish');
