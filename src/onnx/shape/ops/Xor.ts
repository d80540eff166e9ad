import { comparison } from '../elementwise.ts';

/** Xor: numpy-broadcast comparison/logic, bool output. */
export const Xor = comparison('Xor');
