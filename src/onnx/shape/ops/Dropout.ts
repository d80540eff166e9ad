import { tensorType, type ShapeRule } from '../rule.ts';

/** Dropout: output like the input; the optional mask is bool (float-typed like the input before opset 10). */
export const Dropout: ShapeRule = {
  op: 'Dropout',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    return [tensorType(x.dtype, x.shape), tensorType(ctx.opset >= 10 ? 'bool' : x.dtype, x.shape)];
  },
};
