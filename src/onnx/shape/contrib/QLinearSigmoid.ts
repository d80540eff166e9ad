import { sameAsInput } from '../elementwise.ts';
import type { ShapeRule } from '../rule.ts';

/** com.microsoft QLinearSigmoid(X, X_scale, X_zp, Y_scale, Y_zp): X's shape and type. */
export const QLinearSigmoid: ShapeRule = { ...sameAsInput('QLinearSigmoid'), domain: 'com.microsoft' };
