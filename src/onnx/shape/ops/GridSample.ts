import { tensorType, type ShapeRule } from '../rule.ts';

/** GridSample: [N, C, ...grid.shape[1:-1]]. */
export const GridSample: ShapeRule = {
  op: 'GridSample',
  infer: (ctx) => {
    const x = ctx.input(0);
    const grid = ctx.shape(1);
    if (!x) return undefined;
    if (!grid)
      return tensorType(
        x.dtype,
        x.shape?.map(() => null),
      );
    return tensorType(x.dtype, [x.shape?.[0] ?? grid[0]!, x.shape?.[1] ?? null, ...grid.slice(1, -1)]);
  },
};
