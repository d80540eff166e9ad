import { sameAsInput } from '../elementwise.ts';

/** IsNaN: element-wise test, bool output of the input's shape. */
export const IsNaN = sameAsInput('IsNaN', 'bool');
