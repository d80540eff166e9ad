import { comparison } from '../elementwise.ts';

/** Less: numpy-broadcast comparison/logic, bool output. */
export const Less = comparison('Less');
