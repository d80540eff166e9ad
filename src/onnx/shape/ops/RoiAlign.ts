import { tensorType, type ShapeRule } from '../rule.ts';

/** RoiAlign: [num_rois, C, output_height, output_width]. */
export const RoiAlign: ShapeRule = {
  op: 'RoiAlign',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    return tensorType(x.dtype, [
      ctx.shape(1)?.[0] ?? null,
      x.shape?.[1] ?? null,
      ctx.int('output_height', 1),
      ctx.int('output_width', 1),
    ]);
  },
};
