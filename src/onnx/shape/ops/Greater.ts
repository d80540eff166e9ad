import { comparison } from '../elementwise.ts';

/** Greater: numpy-broadcast comparison/logic, bool output. */
export const Greater = comparison('Greater');
