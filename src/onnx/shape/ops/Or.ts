import { comparison } from '../elementwise.ts';

/** Or: numpy-broadcast comparison/logic, bool output. */
export const Or = comparison('Or');
