import type { Dim, TensorType } from '../../ir.ts';
import type { ShapeRule } from '../rule.ts';

function merge(a: TensorType | undefined, b: TensorType | undefined): TensorType | undefined {
  if (!a || !b) return a ?? b;
  if (a.dtype !== b.dtype) return undefined;
  if (!a.shape || !b.shape || a.shape.length !== b.shape.length) return { kind: 'tensor', dtype: a.dtype };
  const shape: Dim[] = a.shape.map((d, i) => (d === b.shape![i] ? d : null));
  return { kind: 'tensor', dtype: a.dtype, shape };
}

/** If: each output merges the then and else branch outputs (dims that differ become unknown). */
export const If: ShapeRule = {
  op: 'If',
  infer: (ctx) => {
    const thenG = ctx.attr('then_branch');
    const elseG = ctx.attr('else_branch');
    if (thenG?.type !== 'graph' || elseG?.type !== 'graph') return undefined;
    const t = ctx.subgraph(thenG.value, []);
    const e = ctx.subgraph(elseG.value, []);
    return ctx.node.outputs.map((_, i) => merge(t[i], e[i]));
  },
};
