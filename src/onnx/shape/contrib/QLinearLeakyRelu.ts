import { sameAsInput } from '../elementwise.ts';
import type { ShapeRule } from '../rule.ts';

/** com.microsoft QLinearLeakyRelu(X, X_scale, X_zp, Y_scale, Y_zp): X's shape and type. */
export const QLinearLeakyRelu: ShapeRule = { ...sameAsInput('QLinearLeakyRelu'), domain: 'com.microsoft' };
