import type { GradRule, LowerContext, NodeView } from './rule.ts';
import {
  convWeightGrad,
  depthwiseWeightGrad,
  nchwcDepthwiseWeightGrad,
  nchwcWeightGrad,
  tallWeightGemm,
} from './conv-weight.ts';
import type { Formulations } from './formulations.ts';
import { kernelOffsets, windowOf, type Window } from './window.ts';

/**
 * Conv (any spatial rank, groups, strides, pads, dilations, auto_pad).
 * dX = for stride-1 convs padded at least as much as a full correlation needs back ('same' convs,
 * 1×1 convs; depthwise too), a Conv of dY with the kernel transposed per group and flipped
 * (flippedKernelConv); otherwise ConvTranspose(dY, W) with output_padding restoring the
 * floor-dropped rows; or (formulation convInput 'col2im'; opset 18+, groups 1, float32)
 * Col2Im(Wᵀ·dY) — measured no faster in the seed CNN's training step, see formulations.ts;
 * dW = patches·dY as one batched MatMul (conv-weight.ts), for depthwise convs one grouped Conv
 * (depthwiseWeightGrad); dB = Σ dY over batch and space.
 * Measured and removed (mobilenet_v2 96×96 B=32 training step, 4 interleaved pairs): the strided
 * depthwise dX as a depthwise Conv of zero-interleaved dY with the flipped kernel was 3–16% slower
 * than ConvTranspose.
 */
export const Conv: GradRule = {
  op: 'Conv',
  trainingForward: (c) => {
    if (!batchedConv(c)) c.g.graph.nodes.push(c.node);
  },
  grad: (c) => {
    const [x, wName] = [c.input(0), c.input(1)];
    const y = c.output(0);
    const wDims = c.dims(wName);
    const w = windowOf(c, x, y, wDims.slice(2));
    const r = w.kernel.length;
    const group = c.attrInt('group', 1);
    const depthwise = group > 1 && wDims[1] === 1 && wDims[0] === group;
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
      const form = depthwise ? c.formulations.depthwiseInput : c.formulations.convInput;
      const flipped =
        form === 'flipped-conv' ? flippedKernelConv(c, dy, wName, wDims, w, group, outputPadding) : undefined;
      if (flipped) dX = flipped;
      else if (form === 'col2im' && group === 1 && c.opset >= 18 && c.floatType === 'float32') {
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
    if (c.needsGrad(1) && depthwise)
      dW = nchwcDepthwiseWeightGrad(c, x, dy, w, wDims) ?? depthwiseWeightGrad(c, x, dy, w, wDims);
    else if (c.needsGrad(1)) {
      const [m, cg] = wDims as [number, number];
      const L = w.outSize.reduce((a, b) => a * b, 1);
      dW =
        (group === 1 ? nchwcWeightGrad(c, x, dy, w, wDims) : undefined) ??
        convWeightGrad(
          c,
          x,
          cg * group,
          c.op('Reshape', [dy, c.ints([-1, m, L])]),
          m,
          group,
          w,
          w.pads,
          w.outSize,
          wDims,
        );
    }
    if (c.has(2) && c.needsGrad(2)) {
      dB = c.op('ReduceSum', [dy, c.ints([0, ...Array.from({ length: r }, (_, i) => i + 2)])], { keepdims: 0 });
    }
    return [dX, dW, dB];
  },
};

/**
 * dX of a stride-1 Conv as a Conv of dY with the kernel transposed per group and flipped in space
 * (full correlation: pads d·(k−1) − p on each side, plus the rows the forward dropped at the end).
 * Undefined where it does not apply or was measured slower (strides > 1; pads the forward does not
 * have, e.g. an unpadded conv, or wider than the dilated kernel): the caller uses ConvTranspose.
 */
function flippedKernelConv(
  c: NodeView,
  dy: string,
  wName: string,
  wDims: number[],
  w: Window,
  group: number,
  outputPadding: number[],
): string | undefined {
  const r = w.kernel.length;
  if (w.strides.some((s) => s !== 1)) return undefined;
  const extent = w.kernel.map((k, i) => w.dilations[i]! * (k - 1));
  const pads = [
    ...extent.map((e, i) => e - w.pads[i]!),
    ...extent.map((e, i) => e - w.pads[i + r]! + outputPadding[i]!),
  ];
  // Measured (whole training step, CPU time, interleaved): 1.25x on resnet18 and 1.15x on
  // mobilenet_v2, whose convs are 'same'-padded (the flipped Conv pads as much as the forward), but
  // 0.89x on the seed CNN's unpadded 3x3 conv, whose flipped Conv pads by 2: ConvTranspose there.
  const [m, cg] = wDims as [number, number];
  // In NCHWc (lower/nchwc.ts: ≥ 16 channels in, a kernel wider than 1) the padded flipped Conv wins
  // too: the seed CNN's conv2 input gradient 6.3 ms vs 13.4 as a plain Conv, 1 thread.
  const nchwc =
    c.formulations.convLayout === 'nchwc' && group === 1 && m >= 16 && m % 4 === 0 && w.kernel.some((k) => k > 1);
  if (
    pads.some((p) => p < 0) ||
    (!nchwc && extent.some((_, i) => pads[i]! + pads[i + r]! > w.pads[i]! + w.pads[i + r]!))
  )
    return undefined;
  const mg = m / group;
  let wt = wName;
  if (mg !== 1 || cg !== 1) {
    // [g·M/g, C/g, k…] → [g, C/g, M/g, k…] → [C, M/g, k…]
    const spatial = Array.from({ length: r }, (_, i) => i + 3);
    const w5 = c.op('Reshape', [wName, c.ints([group, mg, cg, ...w.kernel])]);
    wt = c.op('Reshape', [
      c.op('Transpose', [w5], { perm: [0, 2, 1, ...spatial] }),
      c.ints([cg * group, mg, ...w.kernel]),
    ]);
  }
  const axes = Array.from({ length: r }, (_, i) => i + 2);
  if (w.kernel.some((k) => k > 1))
    wt = c.op('Slice', [
      wt,
      c.ints(axes.map(() => -1)),
      c.ints(axes.map(() => Number.MIN_SAFE_INTEGER)),
      c.ints(axes),
      c.ints(axes.map(() => -1)),
    ]);
  return c.op('Conv', [dy, wt], { dilations: w.dilations, pads, group, kernel_shape: w.kernel });
}

/** Largest output size per image (positions L) at which a group-1 conv trains as batch-wide GEMMs. */
const BATCHED_CONV_MAX_L: Readonly<Record<Formulations['batchedConv'], number>> = {
  off: 0,
  upto4: 4,
  upto16: 16,
  upto64: 64,
};

/**
 * A group-1 Conv with few output positions per image (resnet18's last stages at 64×64: 2×2, 4×4)
 * rewritten for training as im2col over the WHOLE batch and one GEMM, differentiated as one unit.
 * onnxruntime's Conv and ConvTranspose run one GEMM per image whose columns are the image's L
 * positions: with L = 4 a 16-lane kernel is a quarter used and the weights are re-read per image.
 * Here: P [C·K, N·L] (channel-major patches of the padded input, batch folded into the columns),
 * Y = W[M, C·K]·P (+ bias); backward dW = dY·Pᵀ (the forward's patches, already in W's layout),
 * dX = Col2Im(Wᵀ·dY), dB = Σ dY. Returns false (node left as is) when the conv does not qualify.
 */
function batchedConv(c: LowerContext): boolean {
  const maxL = BATCHED_CONV_MAX_L[c.formulations.batchedConv];
  if (maxL === 0 || c.attrInt('group', 1) !== 1 || c.floatType !== 'float32' || c.opset < 18) return false;
  const [x, wName, bias] = [c.input(0), c.input(1), c.has(2) ? c.input(2) : undefined];
  const y = c.output(0);
  const sx = c.shape(x);
  const sy = c.shape(y);
  if (sx.dims.length < 3 || sx.dynamic.some((d, i) => d && i > 0) || sy.dynamic.some((d, i) => d && i > 0))
    return false;
  const wDims = c.dims(wName);
  const w = windowOf(c, x, y, wDims.slice(2));
  const L = w.outSize.reduce((a, b) => a * b, 1);
  if (L > maxL) return false;
  const r = w.kernel.length;
  const [m, cin] = wDims as [number, number];
  const offsets = kernelOffsets(w.kernel);
  const K = offsets.length;
  const spatial = Array.from({ length: r }, (_, i) => i + 2);
  const swap = [1, 0, ...spatial];
  // Xᵀ [C, N, spatial…], padded; one (strided) slice per kernel offset → P [C·K, N·L], channel-major.
  let t = c.op('Transpose', [x], { perm: swap });
  if (w.pads.some((p) => p !== 0))
    t = c.op('Pad', [t, c.ints([0, 0, ...w.pads.slice(0, r), 0, 0, ...w.pads.slice(r)])]);
  const plain = K === 1 && w.strides.every((s) => s === 1) && w.pads.every((p) => p === 0);
  const cols = c.ints([cin, 1, -1]);
  const parts = plain
    ? [t]
    : offsets.map((o) => {
        const starts = o.map((k, i) => k * w.dilations[i]!);
        const ends = starts.map((s0, i) => s0 + (w.outSize[i]! - 1) * w.strides[i]! + 1);
        return c.op('Slice', [t, c.ints(starts), c.ints(ends), c.ints(spatial), c.ints(w.strides)]);
      });
  const flat = parts.map((v) => c.op('Reshape', [v, cols]));
  const P = c.op('Reshape', [flat.length === 1 ? flat[0]! : c.op('Concat', flat, { axis: 1 }), c.ints([cin * K, -1])]);
  const W2 = c.op('Reshape', [wName, c.ints([m, cin * K])]);
  const Y2 = bias ? c.op('Gemm', [W2, P, c.op('Reshape', [bias, c.ints([m, 1])])]) : c.op('Gemm', [W2, P]);
  // [M, N·L] → [M, N, out…] → [N, M, out…]
  // The batch taken from x's shape (not -1) keeps a symbolic batch dim symbolic for the shape
  // engine, so values computed from y's shape downstream (shufflenet's channel split) stay known.
  const batch = sx.dynamic[0] ? c.op('Slice', [c.op('Shape', [x]), c.ints([0]), c.ints([1])]) : c.ints([sx.dims[0]!]);
  const Y4 = c.op('Reshape', [Y2, c.op('Concat', [c.ints([m]), batch, c.ints(w.outSize)], { axis: 0 })]);
  c.g.op('Transpose', [Y4], { perm: swap }, { output: y });
  c.composite((g) => {
    const dy2 = g.op('Reshape', [g.op('Transpose', [g.dy()], { perm: swap }), g.ints([m, -1])]);
    let dX: string | undefined, dW: string | undefined, dB: string | undefined;
    if (g.needsGrad(0)) {
      // Wᵀ·dY [C·K, N·L] → [N, C·K, L] → Col2Im with the forward geometry.
      const colsT = g.op('Gemm', [W2, dy2], { transA: 1 });
      const perImage = g.op('Transpose', [g.op('Reshape', [colsT, g.ints([cin * K, -1, L])])], { perm: [1, 0, 2] });
      dX = g.op('Col2Im', [perImage, g.ints(w.inSize), g.ints(w.kernel)], {
        strides: w.strides,
        dilations: w.dilations,
        pads: w.pads,
      });
    }
    if (g.needsGrad(1)) {
      // dW = dY·Pᵀ [M, C·K], or transposed from P·dYᵀ when C·K > M (formulation weightGemm).
      const R = tallWeightGemm(g, cin * K, m)
        ? g.op('Transpose', [g.op('Gemm', [P, dy2], { transB: 1 })], { perm: [1, 0] })
        : g.op('Gemm', [dy2, P], { transB: 1 });
      dW = g.op('Reshape', [R, g.ints(wDims)]);
    }
    if (bias && g.needsGrad(2)) dB = g.op('ReduceSum', [dy2, g.ints([1])], { keepdims: 0 });
    return [dX, dW, dB];
  });
  return true;
}
