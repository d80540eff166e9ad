import { comparison } from '../elementwise.ts';

/** Equal: numpy-broadcast comparison/logic, bool output. */
export const Equal = comparison('Equal');
