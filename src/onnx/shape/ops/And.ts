import { comparison } from '../elementwise.ts';

/** And: numpy-broadcast comparison/logic, bool output. */
export const And = comparison('And');
