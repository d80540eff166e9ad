import type { GradRule } from './rule.ts';
import { windowOf } from './window.ts';

/**
 * AveragePool: each output spreads dY/count evenly over its window — a ConvTranspose of dY (over
 * N·C folded into the batch) with an all-ones kernel, computed in padded coordinates and cropped.
 * With count_include_pad=0 the per-window counts are a constant computed here from static sizes.
 */
export const AveragePool: GradRule = {
  op: 'AveragePool',
  grad: (c) => {
    const x = c.input(0);
    const kernel = c.attrInts('kernel_shape')!;
    const w = windowOf(c, x, c.output(0), kernel);
    const r = kernel.length;
    if (w.dilations.some((d) => d !== 1)) c.fail('dilated average pooling is not supported');
    const floorOut = w.inSize.map(
      (n, i) => Math.floor((n + w.pads[i]! + w.pads[i + r]! - kernel[i]!) / w.strides[i]!) + 1,
    );
    if (floorOut.some((o, i) => o !== w.outSize[i])) c.fail('ceil_mode windows past the padded edge are not supported');
    const includePad = c.attrInt('count_include_pad', 0) === 1 || w.pads.every((p) => p === 0);
    let dy = c.op('Reshape', [c.dy(), c.ints([-1, 1, ...w.outSize])]);
    const area = kernel.reduce((a, b) => a * b, 1);
    if (includePad) dy = c.op('Mul', [dy, c.scalar(1 / area)]);
    else {
      // counts[o] = Π_i #{m : 0 ≤ o_i·s_i − pb_i + m < in_i}
      const perDim = w.outSize.map((o, i) =>
        Array.from({ length: o }, (_, j) => {
          const start = j * w.strides[i]! - w.pads[i]!;
          return Math.min(start + kernel[i]!, w.inSize[i]!) - Math.max(start, 0);
        }),
      );
      const total = w.outSize.reduce((a, b) => a * b, 1);
      const inv = new Array<number>(total);
      for (let f = 0; f < total; f++) {
        let rem = f;
        let cnt = 1;
        for (let i = r - 1; i >= 0; i--) {
          cnt *= perDim[i]![rem % w.outSize[i]!]!;
          rem = Math.floor(rem / w.outSize[i]!);
        }
        inv[f] = 1 / cnt;
      }
      dy = c.op('Mul', [dy, c.g.constFloat(inv, [1, 1, ...w.outSize], 'avgpool_inv_count', c.floatType)]);
    }
    const ones = c.g.constFloat(new Array<number>(area).fill(1), [1, 1, ...kernel], 'avgpool_ones', c.floatType);
    let d = c.op('ConvTranspose', [dy, ones], { strides: w.strides });
    // d covers padded coordinates [0, (out−1)·s + k); keep [pb, pb + in), zero-fill what it lacks.
    const full = w.outSize.map((o, i) => (o - 1) * w.strides[i]! + kernel[i]!);
    const axes = Array.from({ length: r }, (_, i) => i + 2);
    const ends = w.inSize.map((n, i) => Math.min(w.pads[i]! + n, full[i]!));
    d = c.op('Slice', [d, c.ints(w.pads.slice(0, r)), c.ints(ends), c.ints(axes)]);
    const short = w.inSize.map((n, i) => n - (ends[i]! - w.pads[i]!));
    if (short.some((s) => s > 0)) d = c.op('Pad', [d, c.ints([0, 0, ...new Array<number>(r).fill(0), 0, 0, ...short])]);
    return [c.reshapeLike(d, x)];
  },
};
