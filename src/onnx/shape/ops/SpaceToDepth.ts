import { arith } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** SpaceToDepth: [N, C * b², H / b, W / b]. */
export const SpaceToDepth: ShapeRule = {
  op: 'SpaceToDepth',
  infer: (ctx) => {
    const x = ctx.input(0);
    const b = ctx.int('blocksize', 1);
    if (!x) return undefined;
    const s = x.shape;
    if (!s || s.length !== 4) return tensorType(x.dtype, s);
    return tensorType(x.dtype, [
      s[0]!,
      arith((c) => c * b * b, s[1]!),
      arith((h) => h / b, s[2]!),
      arith((w) => w / b, s[3]!),
    ]);
  },
};
