import type { GradRule } from './rule.ts';
import { convWeightGrad, depthwiseWeightGrad } from './conv-weight.ts';
import { windowOf } from './window.ts';

/**
 * Conv (any spatial rank, groups, strides, pads, dilations, auto_pad).
 * dX = ConvTranspose(dY, W) with output_padding restoring the floor-dropped rows, or (formulation
 * convInput 'col2im'; opset 18+, groups 1, float32) Col2Im(Wᵀ·dY) — measured no faster in the
 * seed CNN's training step, see formulations.ts;
 * dW = patches·dY as one batched MatMul (conv-weight.ts), for depthwise convs one grouped Conv
 * (depthwiseWeightGrad); dB = Σ dY over batch and space.
 * Measured and removed (mobilenet_v2 96×96 B=32 training step, 4 interleaved pairs): the depthwise
 * dX as a depthwise Conv of zero-interleaved dY with the flipped kernel was 3–16% slower than
 * ConvTranspose.
 */
export const Conv: GradRule = {
  op: 'Conv',
  grad: (c) => {
    const [x, wName] = [c.input(0), c.input(1)];
    const y = c.output(0);
    const wDims = c.dims(wName);
    const w = windowOf(c, x, y, wDims.slice(2));
    const r = w.kernel.length;
    const group = c.attrInt('group', 1);
    const dy = c.dy();
    let dX: string | undefined, dW: string | undefined, dB: string | undefined;
    if (c.needsGrad(0)) {
      const outputPadding = w.inSize.map(
        (n, i) =>
          n +
          w.pads[i]! +
          w.pads[i + r]! -
          ((w.outSize[i]! - 1) * w.strides[i]! + w.dilations[i]! * (w.kernel[i]! - 1) + 1),
      );
      if (c.formulations.convInput === 'col2im' && group === 1 && c.opset >= 18 && c.floatType === 'float32') {
        // dX = col2im(Wᵀ · dY): one batched MatMul over the images, then Col2Im with the forward
        // geometry (trailing rows the forward dropped get zeros, so no output_padding is needed).
        const [m, cin] = wDims as [number, number];
        const K = w.kernel.reduce((a, b) => a * b, 1);
        const L = w.outSize.reduce((a, b) => a * b, 1);
        const wT = c.op('Transpose', [c.op('Reshape', [wName, c.ints([m, cin * K])])], { perm: [1, 0] });
        const cols = c.op('MatMul', [wT, c.op('Reshape', [dy, c.ints([0, m, L])])]);
        dX = c.op('Col2Im', [cols, c.ints(w.inSize), c.ints(w.kernel)], {
          strides: w.strides,
          dilations: w.dilations,
          pads: w.pads,
        });
      } else
        dX = c.op('ConvTranspose', [dy, wName], {
          strides: w.strides,
          dilations: w.dilations,
          pads: w.pads,
          group,
          output_padding: outputPadding.some((p) => p !== 0) ? outputPadding : undefined,
        });
    }
    if (c.needsGrad(1) && group > 1 && wDims[1] === 1 && wDims[0] === group)
      dW = depthwiseWeightGrad(c, x, dy, w, wDims);
    else if (c.needsGrad(1)) {
      const [m, cg] = wDims as [number, number];
      const L = w.outSize.reduce((a, b) => a * b, 1);
      const dy3 = c.op('Reshape', [dy, c.ints([-1, m, L])]);
      dW = convWeightGrad(c, x, cg * group, dy3, m, group, w, w.pads, w.outSize, wDims);
    }
    if (c.has(2) && c.needsGrad(2)) {
      dB = c.op('ReduceSum', [dy, c.ints([0, ...Array.from({ length: r }, (_, i) => i + 2)])], { keepdims: 0 });
    }
    return [dX, dW, dB];
  },
};
