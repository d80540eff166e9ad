/**
 * Rule shapes shared by many ops (each op still has its own file naming its rule):
 * same-shape ops (activations, unary math), broadcasting binary/variadic ops, comparisons.
 */
import type { DType } from '../dtype.ts';
import type { Dim } from '../ir.ts';
import { broadcast, known } from './dims.ts';
import { tensorType, type ShapeContext, type ShapeRule, type SymbolicValue } from './rule.ts';

/** Output 0 has input 0's type and shape (activations, unary math, normalisations). */
export function sameAsInput(op: string, dtype?: DType): ShapeRule {
  return {
    op,
    infer: (ctx) => {
      const t = ctx.input(0);
      if (!t) return undefined;
      return tensorType(dtype ?? t.dtype, t.shape);
    },
  };
}

function broadcastInputs(ctx: ShapeContext, from = 0): ReturnType<typeof broadcast> {
  const shapes = [];
  for (let i = from; i < ctx.node.inputs.length; i++) if (ctx.has(i)) shapes.push(ctx.shape(i));
  return broadcast(shapes);
}

/** Numpy-broadcasting op over all inputs; output dtype = input 0's (or `dtype`). */
export function broadcasting(op: string, dtype?: DType): ShapeRule {
  return {
    op,
    infer: (ctx) => {
      const t = dtype ?? ctx.dtype(0) ?? ctx.dtype(1);
      if (!t) return undefined;
      // before opset 7, B was broadcast onto A (attribute `broadcast`/`axis`): the result has A's shape
      if (ctx.opset < 7) return tensorType(t, ctx.shape(0));
      return tensorType(t, broadcastInputs(ctx));
    },
  };
}

/** Comparison and logic ops: broadcasting, bool output. */
export function comparison(op: string): ShapeRule {
  return broadcasting(op, 'bool');
}

/**
 * Value of an element-wise integer op on known values (shape arithmetic such as
 * `Shape -> Gather -> Mul -> Concat -> Reshape` in exported graphs). A symbolic entry survives
 * only the identity (x * 1, x + 0, x - 0, x / 1).
 */
export function arithmeticValue(f: (a: number, b: number) => number, identity: number, commutes: boolean) {
  return (ctx: ShapeContext): SymbolicValue | undefined => {
    const a = ctx.value(0);
    const b = ctx.value(1);
    if (!a || !b) return undefined;
    const n = Math.max(a.values.length, b.values.length);
    if (a.values.length !== n && a.values.length !== 1) return undefined;
    if (b.values.length !== n && b.values.length !== 1) return undefined;
    const values: Dim[] = [];
    for (let i = 0; i < n; i++) {
      const x = a.values[a.values.length === 1 ? 0 : i]!;
      const y = b.values[b.values.length === 1 ? 0 : i]!;
      if (known(x) && known(y)) values.push(f(x, y));
      else if (known(y) && y === identity) values.push(x);
      else if (commutes && known(x) && x === identity) values.push(y);
      else values.push(null);
    }
    return { values, scalar: a.scalar && b.scalar };
  };
}
