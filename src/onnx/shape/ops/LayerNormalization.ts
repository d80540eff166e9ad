import { axis as normAxis } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';
import { dtypeFromCode } from '../../dtype.ts';

/** LayerNormalization: Y like X; Mean and InvStdDev keep X's dims before `axis` and 1 after (stash_type). */
export const LayerNormalization: ShapeRule = {
  op: 'LayerNormalization',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    const stash = dtypeFromCode(ctx.int('stash_type', 1)) ?? 'float32';
    let statShape = undefined;
    if (x.shape) {
      const a = normAxis(ctx.int('axis', -1), x.shape.length);
      if (a !== undefined) statShape = x.shape.map((d, i) => (i < a ? d : 1));
    }
    return [tensorType(x.dtype, x.shape), tensorType(stash, statShape), tensorType(stash, statShape)];
  },
};
