/**
 * Geometry of sliding-window ops (Conv, ConvTranspose, pools): kernel, strides, dilations and
 * explicit pads, with auto_pad resolved against the probed (static) spatial sizes.
 */
import type { NodeView } from './rule.ts';

export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** [begin_0, begin_1, …, end_0, end_1, …] as in the ONNX `pads` attribute. */
  pads: number[];
  /** Input and output spatial sizes. */
  inSize: number[];
  outSize: number[];
}

export function windowOf(c: NodeView, x: string, y: string, kernel: number[]): Window {
  const sx = c.shape(x);
  const sy = c.shape(y);
  const r = kernel.length;
  for (let i = 2; i < sx.dims.length; i++) {
    if (sx.dynamic[i] || sy.dynamic[i]) c.fail('spatial sizes must not vary with the batch');
  }
  const strides = c.attrInts('strides') ?? new Array<number>(r).fill(1);
  const dilations = c.attrInts('dilations') ?? new Array<number>(r).fill(1);
  const inSize = sx.dims.slice(2);
  const outSize = sy.dims.slice(2);
  const autoPad = c.attrString('auto_pad', 'NOTSET');
  let pads = c.attrInts('pads') ?? new Array<number>(2 * r).fill(0);
  if (autoPad === 'VALID') pads = new Array<number>(2 * r).fill(0);
  else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    pads = new Array<number>(2 * r).fill(0);
    for (let i = 0; i < r; i++) {
      const total = Math.max(0, (outSize[i]! - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - inSize[i]!);
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + r] = total - pads[i]!;
    }
  }
  return { kernel, strides, dilations, pads, inSize, outSize };
}

/** Number of kernel positions (product of kernel dims) and each position's multi-index. */
export function kernelOffsets(kernel: number[]): number[][] {
  let offs: number[][] = [[]];
  for (const k of kernel) offs = offs.flatMap((o) => Array.from({ length: k }, (_, i) => [...o, i]));
  return offs;
}
