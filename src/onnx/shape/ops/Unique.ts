import { axis as normAxis } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/**
 * Unique: the number of unique values is data-dependent. Y: [n] flattened, or X's shape with the
 * `axis` dim unknown; indices and counts: int64 [n]; inverse_indices: int64 [elements or axis dim].
 */
export const Unique: ShapeRule = {
  op: 'Unique',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    const axisAttr = ctx.int('axis');
    const s = x.shape;
    if (axisAttr === undefined || !s) {
      const total =
        s && s.every((d) => typeof d === 'number') ? s.reduce<number>((a, b) => a * (b as number), 1) : null;
      return [
        tensorType(x.dtype, [null]),
        tensorType('int64', [null]),
        tensorType('int64', [total]),
        tensorType('int64', [null]),
      ];
    }
    const a = normAxis(axisAttr, s.length);
    if (a === undefined) return undefined;
    return [
      tensorType(
        x.dtype,
        s.map((d, i) => (i === a ? null : d)),
      ),
      tensorType('int64', [null]),
      tensorType('int64', [s[a]!]),
      tensorType('int64', [null]),
    ];
  },
};
