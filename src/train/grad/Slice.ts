import type { GradRule } from './rule.ts';

/**
 * Unit-step slices (what lowered GRU/LSTM and most models use): dX = Pad(dY) with zeros around
 * the kept window. Starts/ends/axes must be constants; the sliced axes must have static sizes.
 */
export const Slice: GradRule = {
  op: 'Slice',
  grad: (c) => {
    const x = c.input(0);
    const sx = c.shape(x);
    const rank = sx.dims.length;
    let starts: number[] | undefined,
      ends: number[] | undefined,
      axes: number[] | undefined,
      steps: number[] | undefined;
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
    const pads = new Array<number>(2 * rank).fill(0);
    axes.forEach((a0, i) => {
      const a = c.axis(a0, rank);
      if (sx.dynamic[a]) c.fail(`sliced axis ${a} varies with the batch`);
      const dim = sx.dims[a]!;
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
      const s = clamp(starts![i]!);
      const e = Math.max(clamp(ends![i]!), s);
      pads[a] = s;
      pads[a + rank] = dim - e;
    });
    if (pads.every((p) => p === 0)) return [c.dy()];
    return [c.op('Pad', [c.dy(), c.ints(pads)])];
  },
};
