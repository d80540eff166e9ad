import { tensorType, type ShapeRule } from '../rule.ts';
import { constantFloats, resizedShape } from './Resize.ts';

/** Upsample (deprecated Resize): floor(dim * scale), scales an attribute before opset 9, an input after. */
export const Upsample: ShapeRule = {
  op: 'Upsample',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    if (!x.shape) return tensorType(x.dtype);
    const a = ctx.attr('scales');
    const scales = a?.type === 'floats' ? a.value : constantFloats(ctx, 1);
    return tensorType(x.dtype, scales ? resizedShape(x.shape, scales, undefined) : x.shape.map(() => null));
  },
};
