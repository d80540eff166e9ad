import { dtypeFromCode } from '../../dtype.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** RandomUniformLike: the input's shape; `dtype` attribute or the input's type. */
export const RandomUniformLike: ShapeRule = {
  op: 'RandomUniformLike',
  infer: (ctx) => {
    const code = ctx.int('dtype');
    const dtype = (code !== undefined ? dtypeFromCode(code) : undefined) ?? ctx.dtype(0);
    return dtype ? tensorType(dtype, ctx.shape(0)) : undefined;
  },
};
