import type { GradRule } from './rule.ts';

/** Constant-mode Pad: dX is dY cropped back to the input window (a Slice). Pads must be constant and ≥ 0. */
export const Pad: GradRule = {
  op: 'Pad',
  grad: (c) => {
    const x = c.input(0);
    const rank = c.rank(x);
    if (c.attrString('mode', 'constant') !== 'constant') c.fail('only constant-mode padding is differentiable');
    const padsConst = c.constInts(c.input(1));
    if (!padsConst) c.fail('pads must be a constant to differentiate');
    const pads = padsConst!;
    let axes = Array.from({ length: rank }, (_, i) => i);
    if (c.has(3)) {
      const a = c.constInts(c.input(3));
      if (!a) c.fail('pad axes must be a constant to differentiate');
      axes = a!.map((v) => c.axis(v, rank));
    }
    const n = axes.length;
    if (pads.some((p) => p < 0)) c.fail('negative (cropping) pads are not supported');
    const sy = c.shape(c.output(0));
    const starts: number[] = [];
    const ends: number[] = [];
    const sliceAxes: number[] = [];
    axes.forEach((a, i) => {
      if (pads[i] === 0 && pads[i + n] === 0) return;
      if (sy.dynamic[a]) c.fail(`padded axis ${a} varies with the batch`);
      sliceAxes.push(a);
      starts.push(pads[i]!);
      ends.push(sy.dims[a]! - pads[i + n]!);
    });
    if (sliceAxes.length === 0) return [c.dy()];
    return [c.op('Slice', [c.dy(), c.ints(starts), c.ints(ends), c.ints(sliceAxes)])];
  },
};
