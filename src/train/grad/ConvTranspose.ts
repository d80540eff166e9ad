import type { GradRule } from './rule.ts';
import { convWeightGrad } from './conv-weight.ts';
import { windowOf } from './window.ts';

/**
 * ConvTranspose is the adjoint of Conv: dX = Conv(dY, W) with the same geometry; dW is the
 * patch MatMul with the roles of input and upstream gradient swapped (conv-weight.ts).
 */
export const ConvTranspose: GradRule = {
  op: 'ConvTranspose',
  grad: (c) => {
    const [x, wName] = [c.input(0), c.input(1)];
    const y = c.output(0);
    const wDims = c.dims(wName);
    const kernel = wDims.slice(2);
    const r = kernel.length;
    if (c.attr('output_shape')) c.fail('the output_shape attribute is not supported; give explicit pads');
    const autoPad = c.attrString('auto_pad', 'NOTSET');
    if (autoPad !== 'NOTSET' && autoPad !== 'VALID') c.fail(`auto_pad ${autoPad} is not supported; give explicit pads`);
    // Seen from the adjoint Conv, Y is the input and X the output.
    const w = windowOf(c, y, x, kernel);
    const group = c.attrInt('group', 1);
    const dy = c.dy();
    let dX: string | undefined, dW: string | undefined, dB: string | undefined;
    if (c.needsGrad(0)) {
      dX = c.op('Conv', [dy, wName], { strides: w.strides, dilations: w.dilations, pads: w.pads, group });
    }
    if (c.needsGrad(1)) {
      const [cin, mg] = wDims as [number, number];
      const Lx = w.outSize.reduce((a, b) => a * b, 1);
      const x3 = c.op('Reshape', [x, c.ints([-1, cin, Lx])]);
      // Padded dY must cover (X−1)·s + (k−1)·d + 1 positions; output_padding already made Y long enough.
      dW = convWeightGrad(c, dy, mg * group, x3, cin, group, w, w.pads, w.outSize, wDims);
    }
    if (c.has(2) && c.needsGrad(2)) {
      dB = c.op('ReduceSum', [dy, c.ints([0, ...Array.from({ length: r }, (_, i) => i + 2)])], { keepdims: 0 });
    }
    return [dX, dW, dB];
  },
};
