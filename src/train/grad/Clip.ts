import type { GradRule } from './rule.ts';

/**
 * Gradient passes where min < y < max, read from the OUTPUT y (PyTorch's hardtanh/ReLU6 backward;
 * equal to min < x < max since y = x there, and differs from clamp's min ≤ x ≤ max only at exact
 * ties); none to min/max. Reading y rather than x leaves x with one consumer, so onnxruntime fuses
 * a Conv + Clip (ReLU6) of the training forward into one FusedConv: measured on mobilenet_v2
 * (96×96, batch 32, SGD), the standalone Clip kernels were 26% of the step.
 */
export const Clip: GradRule = {
  op: 'Clip',
  grad: (c) => {
    const y = c.output(0);
    let mask: string | undefined;
    const lo = c.has(1) ? c.input(1) : c.attr('min') ? c.scalar(c.attrFloat('min', 0)) : undefined;
    const hi = c.has(2) ? c.input(2) : c.attr('max') ? c.scalar(c.attrFloat('max', 0)) : undefined;
    if (lo) mask = c.op('Greater', [y, lo]);
    if (hi) {
      const m = c.op('Less', [y, hi]);
      mask = mask ? c.op('And', [mask, m]) : m;
    }
    if (!mask) return [c.dy()];
    return [c.maskGrad(mask)];
  },
};
