import type { GradRule, NodeView } from './rule.ts';

/** The window a unit-step Slice keeps of its input: [start, end) per sliced axis, with the axis size. */
export interface SliceWindow {
  axis: number;
  start: number;
  end: number;
  dim: number;
}

/**
 * The kept window of a Slice node (constant bounds, unit steps, static sizes along the sliced
 * axes); fails with a clear message otherwise. Axes the slice keeps whole are left out.
 */
export function sliceWindows(c: NodeView): SliceWindow[] {
  const sx = c.shape(c.input(0));
  const rank = sx.dims.length;
  let starts: number[] | undefined, ends: number[] | undefined, axes: number[] | undefined, steps: number[] | undefined;
  if (c.opset < 10) {
    starts = c.attrInts('starts');
    ends = c.attrInts('ends');
    axes = c.attrInts('axes');
  } else {
    starts = c.constInts(c.input(1));
    ends = c.constInts(c.input(2));
    axes = c.has(3) ? c.constInts(c.input(3)) : undefined;
    steps = c.has(4) ? c.constInts(c.input(4)) : undefined;
    if (!starts || !ends || (c.has(3) && !axes) || (c.has(4) && !steps))
      c.fail('slice bounds must be constants to differentiate');
  }
  axes ??= starts!.map((_, i) => i);
  if (steps?.some((s) => s !== 1)) c.fail('only unit-step slices are differentiable');
  const windows: SliceWindow[] = [];
  axes.forEach((a0, i) => {
    const axis = c.axis(a0, rank);
    if (sx.dynamic[axis]) c.fail(`sliced axis ${axis} varies with the batch`);
    const dim = sx.dims[axis]!;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
    const start = clamp(starts![i]!);
    const end = Math.max(clamp(ends![i]!), start);
    if (start !== 0 || end !== dim) windows.push({ axis, start, end, dim });
  });
  return windows;
}

/** dY zero-padded back to the input's size around `windows`. */
export function padToInput(c: NodeView, dy: string, all: readonly SliceWindow[]): string {
  const windows = all.filter((w) => w.start !== 0 || w.end !== w.dim);
  if (windows.length === 0) return dy;
  const rank = c.rank(c.input(0));
  const pads = new Array<number>(2 * rank).fill(0);
  for (const w of windows) {
    pads[w.axis] = w.start;
    pads[w.axis + rank] = w.dim - w.end;
  }
  return c.op('Pad', [dy, c.ints(pads)]);
}

/**
 * Unit-step slices (what lowered GRU/LSTM and most models use): dX = Pad(dY) with zeros around
 * the kept window. Starts/ends/axes must be constants; the sliced axes must have static sizes.
 * Slices of one value along one axis are also gathered by autodiff (differentiate) into a single
 * Concat of their gradients when they tile the axis.
 */
export const Slice: GradRule = {
  op: 'Slice',
  grad: (c) => [padToInput(c, c.dy(), sliceWindows(c))],
};
