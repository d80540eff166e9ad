import type { Dim } from '../../ir.ts';
import { axis as normAxis, known } from '../dims.ts';
import { tensorType, type ShapeContext, type ShapeRule, type SymbolicValue } from '../rule.ts';

interface SliceSpec {
  starts: number[];
  ends: number[];
  axes?: number[];
  steps?: number[];
}

function spec(ctx: ShapeContext): SliceSpec | undefined {
  if (ctx.opset < 10) {
    const starts = ctx.ints('starts');
    const ends = ctx.ints('ends');
    return starts && ends ? { starts, ends, axes: ctx.ints('axes') } : undefined;
  }
  const starts = ctx.numbers(1);
  const ends = ctx.numbers(2);
  if (!starts || !ends) return undefined;
  const axes = ctx.has(3) ? ctx.numbers(3) : undefined;
  const steps = ctx.has(4) ? ctx.numbers(4) : undefined;
  if ((ctx.has(3) && !axes) || (ctx.has(4) && !steps)) return undefined;
  return { starts, ends, axes, steps };
}

/** Elements selected along one axis of length `dim` (numpy slicing with clamping). */
export function sliceLength(dim: number, start: number, end: number, step: number): number {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
    return Math.max(0, Math.ceil((e - s) / step));
  }
  s = clamp(s, 0, dim - 1);
  e = clamp(e, -1, dim - 1);
  return Math.max(0, Math.ceil((e - s) / step));
}

const INT64_MAX_ISH = 2 ** 62; // ends like INT64_MAX arrive rounded to a double; anything this large means "to the end"

function apply(shape: Dim[], sp: SliceSpec): Dim[] | undefined {
  const out = [...shape];
  const axes = sp.axes ?? sp.starts.map((_, i) => i);
  for (let j = 0; j < axes.length; j++) {
    const a = normAxis(axes[j]!, shape.length);
    if (a === undefined) return undefined;
    const d = shape[a]!;
    const step = sp.steps?.[j] ?? 1;
    const start = sp.starts[j]!;
    const end = sp.ends[j]!;
    if (known(d)) out[a] = sliceLength(d, start, end, step);
    // a symbolic dim survives a full slice
    else out[a] = start === 0 && step === 1 && end >= INT64_MAX_ISH ? d : null;
  }
  return out;
}

/** Slice: starts/ends/axes/steps from inputs (opset >= 10) or attributes (older). */
export const Slice: ShapeRule = {
  op: 'Slice',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    const sp = spec(ctx);
    if (!x.shape) return tensorType(x.dtype);
    if (!sp)
      return tensorType(
        x.dtype,
        x.shape.map(() => null),
      );
    return tensorType(x.dtype, apply(x.shape, sp));
  },
  value: (ctx): SymbolicValue | undefined => {
    const v = ctx.value(0);
    const sp = spec(ctx);
    if (!v || v.scalar || !sp || sp.starts.length !== 1) return undefined;
    if (sp.axes && normAxis(sp.axes[0]!, 1) !== 0) return undefined;
    const n = v.values.length;
    const step = sp.steps?.[0] ?? 1;
    const len = sliceLength(n, sp.starts[0]!, sp.ends[0]!, step);
    let s = sp.starts[0]! < 0 ? sp.starts[0]! + n : sp.starts[0]!;
    s = step > 0 ? Math.min(Math.max(s, 0), n) : Math.min(Math.max(s, 0), n - 1);
    return { values: Array.from({ length: len }, (_, i) => v.values[s + i * step]!), scalar: false };
  },
};
