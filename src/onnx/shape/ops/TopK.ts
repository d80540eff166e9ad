import { axis as normAxis } from '../dims.ts';
import { tensorType, type ShapeRule } from '../rule.ts';

/** TopK: values and int64 indices, the input's shape with `axis` of size K (input from opset 10, attribute k before). */
export const TopK: ShapeRule = {
  op: 'TopK',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    if (!x.shape) return [tensorType(x.dtype), tensorType('int64')];
    const a = normAxis(ctx.int('axis', -1), x.shape.length);
    if (a === undefined) return undefined;
    const k = ctx.opset >= 10 ? (ctx.numbers(1)?.[0] ?? null) : (ctx.int('k') ?? null);
    const shape = x.shape.map((d, i) => (i === a ? k : d));
    return [tensorType(x.dtype, shape), tensorType('int64', [...shape])];
  },
};
