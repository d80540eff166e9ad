import { describe, expect, test } from 'vitest';
import { GraphBuilder, tensorValueInfo } from './builder.ts';
import { emptyGraph } from './ir.ts';

describe('GraphBuilder names', () => {
  test("a subgraph's values are taken: one namespace for the whole model (SSA)", () => {
    const g = new GraphBuilder();
    g.input('x', 'float32', [2]);
    const inner = new GraphBuilder(emptyGraph('then'));
    const neg = inner.op('Neg', ['x'], {}, { output: 'neg' });
    inner.graph.outputs.push(tensorValueInfo(neg, 'float32', [2]));
    const cond = g.initializer('cond', 'bool', [1], [1]);
    g.op('If', [cond], { then_branch: inner.graph, else_branch: inner.graph });
    // A builder over the outer graph (a later pass) must not hand out the subgraph's 'neg' again.
    expect(new GraphBuilder(g.graph).uniqueName('neg')).not.toBe('neg');
  });
});
