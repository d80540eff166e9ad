import { sameAsInput } from '../elementwise.ts';

/** IsInf: element-wise test, bool output of the input's shape. */
export const IsInf = sameAsInput('IsInf', 'bool');
