/**
 * DepthToSpace and SpaceToDepth: the same rearrangement of a 4-D [N, C, H, W] tensor between the
 * channel and spatial axes by `blocksize` b, in opposite directions.
 */
import { arith } from './dims.ts';
import { tensorType, type ShapeRule } from './rule.ts';

/**
 * The rule of a block rearrangement: [N, channels(C, b), spatial(H, b), spatial(W, b)]; inputs of
 * another or unknown rank keep their shape.
 */
export function blockRearrange(
  op: string,
  channels: (c: number, b: number) => number,
  spatial: (d: number, b: number) => number,
): ShapeRule {
  return {
    op,
    infer: (ctx) => {
      const x = ctx.input(0);
      const b = ctx.int('blocksize', 1);
      if (!x) return undefined;
      const s = x.shape;
      if (!s || s.length !== 4) return tensorType(x.dtype, s);
      return tensorType(x.dtype, [
        s[0]!,
        arith((c) => channels(c, b), s[1]!),
        arith((h) => spatial(h, b), s[2]!),
        arith((w) => spatial(w, b), s[3]!),
      ]);
    },
  };
}
