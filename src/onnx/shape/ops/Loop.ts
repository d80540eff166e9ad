import type { TensorType } from '../../ir.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/**
 * Loop(M, cond, v_initial...): body(iteration_num, cond, v...) -> (cond, v..., scan outputs...).
 * Outputs: the final loop-carried values, then each scan output stacked along a new first axis
 * whose length (the iteration count) is unknown.
 */
export const Loop: ShapeRule = {
  op: 'Loop',
  infer: (ctx) => {
    const body = ctx.attr('body');
    if (body?.type !== 'graph') return undefined;
    const carried = ctx.node.inputs.length - 2;
    const inputs: (TensorType | undefined)[] = [tensorType('int64', []), tensorType('bool', [])];
    for (let i = 0; i < carried; i++) inputs.push(ctx.input(i + 2));
    const outs = ctx.subgraph(body.value, inputs);
    return ctx.node.outputs.map((_, i) => {
      const t = outs[i + 1];
      if (i < carried) return t ?? ctx.input(i + 2);
      return t && tensorType(t.dtype, t.shape ? [null, ...t.shape] : undefined);
    });
  },
};
