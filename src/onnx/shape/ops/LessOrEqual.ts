import { comparison } from '../elementwise.ts';

/** LessOrEqual: numpy-broadcast comparison/logic, bool output. */
export const LessOrEqual = comparison('LessOrEqual');
