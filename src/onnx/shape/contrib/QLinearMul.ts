import { broadcast } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** com.microsoft QLinearMul(A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp): broadcast of A and B, A's type. */
export const QLinearMul: ShapeRule = {
  op: 'QLinearMul',
  domain: 'com.microsoft',
  infer: (ctx) => {
    const dtype = ctx.dtype(0);
    return dtype ? tensorType(dtype, broadcast([ctx.shape(0), ctx.shape(3)])) : undefined;
  },
};
