import { comparison } from '../elementwise.ts';

/** GreaterOrEqual: numpy-broadcast comparison/logic, bool output. */
export const GreaterOrEqual = comparison('GreaterOrEqual');
