/**
 * Weight gradient of a convolution as ONE batched MatMul over patches (im2col built from strided
 * Slices). The probe of DESIGN.md found the alternative — a Conv whose "kernel" is the upstream
 * gradient — the single most expensive node of the backward pass (measured on the seed CNN: that
 * Conv alone cost ~5× the patches Gemm, the 11×11 "kernel" making badly shaped GEMMs inside
 * onnxruntime), so that formulation was removed.
 *
 * For groups g, with src [N, Cs, …] the tensor patches are cut from and other [N, Co, L]:
 *   P[g, K·Cs/g, N·L]  (slices of srcᵀ, concatenated along the channel axis: no transpose of P)
 *   O[g, N·L, Co/g]    (one transpose of `other`)
 *   R = P @ O → [g, K, Cs/g, Co/g] → transpose → [g, Co/g, Cs/g, K]
 * Conv uses src = X, other = dY (result = W [M, C/g, k…]); ConvTranspose uses src = dY, other = X
 * (result = W [C, M/g, k…]): the same layout falls out for both.
 *
 * With groups 1 and few patch rows (K·Cs < L, e.g. a first conv layer over a 1-channel image) the
 * patches stay per image, P [N, K·Cs, L], and R = Σₙ other[n]·P[n]ᵀ is one batched MatMul and a
 * ReduceSum: neither src nor the large `other` is transposed. Measured (onnxruntime profiler) on
 * the seed CNN's first conv in isolation: 0.96 ms vs 1.59 ms for the one-Gemm form (in the whole
 * training step ~0.5 ms saved: no 0.4 ms Transpose of dY); on its second conv (K·Cs = 288 > L = 121)
 * the one-Gemm form stays faster (4.5 vs 5.4 ms).
 */
import { emptyGraph, tensorValueInfo, type Graph } from '../../onnx/browser.ts';
import { NCHWC_DOMAIN } from '../lower/nchwc.ts';
import type { NodeView } from './rule.ts';
import { kernelOffsets, type Window } from './window.ts';

/**
 * What both NCHWc weight-gradient forms need: an NCHWc block, a 2-D float32 conv without
 * dilation, and a channel count (output channels, or a depthwise conv's channels) a multiple of 4.
 */
function nchwcApplies(c: NodeView, w: Window, channels: number): boolean {
  return (
    c.formulations.nchwcBlock > 1 &&
    w.kernel.length === 2 &&
    c.floatType === 'float32' &&
    channels % 4 === 0 &&
    w.dilations.every((v) => v === 1)
  );
}

/**
 * Weight gradient of a group-1, stride-1 2-D convolution as ONE convolution in onnxruntime's
 * NCHWc layout (formulation convWeight 'nchwc-conv'): dW[o, c, i, j] = Σₙ Σₕ,w xpad[n, c, h+i, w+j] ·
 * dY[n, o, h, w] is a correlation of Xᵀ (batch C, channels N) with dYᵀ (O filters of N channels,
 * kernel = the output size), the batch zero-padded to a multiple of the block (padded images add
 * nothing). Built from onnxruntime's own reorders: Xᵀ by ReorderInput; the filter [O/B, N/B, h, w,
 * B_n, B_o] from ReorderInput(dY) [N, O/B, h, w, B_o] and one transpose that moves 16-float runs.
 * No im2col: the K slices and their Concat (K·N·C·L floats copied twice) are gone. Measured on the
 * seed CNN's conv2 in isolation (2 threads, CPU time, load ~34): 8.4 vs 17.4 ms for the patches Gemm.
 * Formulation 'nchwc-strided' also takes strided convs (dYᵀ dilated by the stride).
 * Undefined where it does not apply (dilations, 1×1 kernels, output channels not a multiple of 4,
 * no NCHWc block; strides unless 'nchwc-strided'): the caller uses the patches.
 */
export function nchwcWeightGrad(
  c: NodeView,
  x: string,
  dy: string,
  w: Window,
  weightDims: number[],
): string | undefined {
  const block = c.formulations.nchwcBlock;
  const [o, cin, kh, kw] = weightDims as [number, number, number, number];
  const form = c.formulations.convWeight;
  if (
    (form !== 'nchwc-conv' && form !== 'nchwc-strided' && form !== 'nchwc-deep' && form !== 'nchwc-deep-strided') ||
    // 'nchwc-deep': stride-1 convs with fewer patch rows than output positions (a first layer over
    // 1–3 channels) keep the per-image patches, which read dY once instead of reordering it into an
    // NCHWc filter (strided ones keep the NCHWc form: their patches are strided-slice copies);
    // 'nchwc-deep-strided' leaves strided ones with at most 3×3 kernel offsets (9 slices) to the
    // per-image patches too (a 7×7 stem's 49 strided slices cost more than the NCHWc Conv).
    (((form === 'nchwc-deep' && w.strides.every((v) => v === 1)) ||
      (form === 'nchwc-deep-strided' && (w.strides.every((v) => v === 1) || kh * kw <= 9))) &&
      kh * kw * cin < w.outSize.reduce((a, b) => a * b, 1)) ||
    !nchwcApplies(c, w, o) ||
    kh * kw <= 1 ||
    (form === 'nchwc-conv' && w.strides.some((v) => v !== 1))
  )
    return undefined;
  const [h, wd] = w.outSize as [number, number];
  const op = Math.ceil(o / block) * block;
  const nchwc = nchwcOp(c);
  const emit = (xp: string, dyp: string): string => {
    const input = nchwc('ReorderInput', [c.op('Transpose', [xp], { perm: [1, 0, 2, 3] })]);
    // ReorderInput(dY) [N, O/B, h, w, B] → [N/B, B, O/B, h, w, B] → [O/B, N/B, h, w, B_n, B_o]
    let filter = c.op('Reshape', [nchwc('ReorderInput', [dyp]), c.ints([-1, block, op / block, h, wd, block])]);
    filter = c.op('Transpose', [filter], { perm: [2, 0, 3, 4, 1, 5] });
    filter = c.op('Reshape', [filter, c.ints([op, -1, h, wd])]);
    // A strided forward reads x every s-th position: the same correlation with dYᵀ dilated by s.
    const r = nchwc('Conv', [input, filter], { kernel_shape: [h, wd], pads: w.pads, dilations: w.strides, group: 1 });
    // [C, O, kh', kw'] (kh' > kh when the forward dropped trailing rows) → [O, C, kh, kw]
    const dW = c.op('Transpose', [nchwc('ReorderOutput', [r], { channels: o })], { perm: [1, 0, 2, 3] });
    const outSize = w.inSize.map((n, i) => n + w.pads[i]! + w.pads[i + 2]! - (w.outSize[i]! - 1) * w.strides[i]!);
    if (outSize.every((s, i) => s === w.kernel[i])) return dW;
    return c.op('Slice', [dW, c.ints([0, 0]), c.ints(w.kernel), c.ints([2, 3])]);
  };
  const sx = c.shape(x);
  if (!sx.dynamic[0] && sx.dims[0]! % block === 0) return emit(x, dy);
  // Pad the batch to a multiple of the block: (block − N mod block) mod block zero images.
  const n = c.op('Slice', [c.op('Shape', [x]), c.ints([0]), c.ints([1])]);
  const b = c.ints([block]);
  const rest = c.op('Mod', [n, b]);
  const padded = () => {
    const pads = c.op('Concat', [c.ints([0, 0, 0, 0]), c.op('Mod', [c.op('Sub', [b, rest]), b]), c.ints([0, 0, 0])], {
      axis: 0,
    });
    return emit(c.op('Pad', [x, pads]), c.op('Pad', [dy, pads]));
  };
  if (!sx.dynamic[0] || c.formulations.batchPad === 'always') return padded();
  // A symbolic batch: pad only when it is not a multiple of the block (a Pad by zero still copies).
  return c.op('If', [c.op('Equal', [rest, c.ints([0])])], {
    then_branch: branch(c, () => emit(x, dy), weightDims),
    else_branch: branch(c, padded, weightDims),
  });
}

/**
 * The nodes `emit` appends, moved into a subgraph of If with its result as the one output (names
 * stay unique in the whole model; constants stay in the outer graph, read from the outer scope).
 */
function branch(c: NodeView, emit: () => string, dims: number[]): Graph {
  const start = c.g.graph.nodes.length;
  const out = emit();
  const nodes = c.g.graph.nodes.splice(start);
  return { ...emptyGraph(c.g.uniqueName('branch')), nodes, outputs: [tensorValueInfo(out, c.floatType, dims)] };
}

/** An emitter of com.microsoft.nchwc nodes (ReorderInput, Conv, ReorderOutput) into c's graph. */
function nchwcOp(c: NodeView) {
  return (type: string, inputs: string[], attrs: Record<string, number | number[]> = {}) =>
    c.g.op(type, inputs, attrs, { domain: NCHWC_DOMAIN });
}

/**
 * Whether the weight gradient's GEMM [Co, rows]·K is better computed transposed, [rows, Co]
 * (formulation weightGemm 'tall': MLAS runs the long-K GEMMs of weight gradients faster with the
 * larger side as its rows; see formulations.ts).
 */
export function tallWeightGemm(c: NodeView, rows: number, outChannels: number): boolean {
  return c.formulations.weightGemm === 'tall' && rows > outChannels;
}

export function convWeightGrad(
  c: NodeView,
  src: string,
  srcChannels: number,
  other: string,
  otherChannels: number,
  group: number,
  w: Window,
  srcPads: number[],
  patchSize: number[],
  weightDims: number[],
): string {
  const r = w.kernel.length;
  const csg = srcChannels / group;
  const cog = otherChannels / group;
  const L = patchSize.reduce((a, b) => a * b, 1);
  const offsets = kernelOffsets(w.kernel);
  const K = offsets.length;
  const spatialAxes = Array.from({ length: r }, (_, i) => i + 2);
  const pads = (v: string) =>
    srcPads.some((p) => p !== 0)
      ? c.op('Pad', [v, c.ints([0, 0, ...srcPads.slice(0, r), 0, 0, ...srcPads.slice(r)])])
      : v;
  const slice = (v: string, o: number[]) => {
    const starts = o.map((k, i) => k * w.dilations[i]!);
    const ends = starts.map((s, i) => s + (patchSize[i]! - 1) * w.strides[i]! + 1);
    return c.op('Slice', [v, c.ints(starts), c.ints(ends), c.ints(spatialAxes), c.ints(w.strides)]);
  };
  const auto = ['patches', 'nchwc-conv', 'nchwc-strided', 'nchwc-deep', 'nchwc-deep-strided'].includes(
    c.formulations.convWeight,
  );
  const perImage = group === 1 && (c.formulations.convWeight === 'patches-per-image' || (auto && K * csg < L));
  if (perImage) {
    // Patches cut from src in its own layout, P [N, K·Cs, L]; R[n] = other[n] · P[n]ᵀ as one batched
    // MatMul (onnxruntime fuses the Transpose into FusedMatMul), summed over the batch: no
    // transpose of src or of the (large) other. Chosen when the patch rows K·Cs are fewer than L.
    const s = pads(src);
    const plain = K === 1 && w.strides.every((v) => v === 1) && srcPads.every((p) => p === 0);
    const parts = (plain ? [s] : offsets.map((o) => slice(s, o))).map((v) => c.op('Reshape', [v, c.ints([0, csg, L])]));
    const P = parts.length === 1 ? parts[0]! : c.op('Concat', parts, { axis: 1 });
    const R = c.op('MatMul', [other, c.op('Transpose', [P], { perm: [0, 2, 1] })]);
    const S = c.op('ReduceSum', [R, c.ints([0])], { keepdims: 0 });
    const T = c.op('Transpose', [c.op('Reshape', [S, c.ints([cog, K, csg])])], { perm: [0, 2, 1] });
    return c.op('Reshape', [T, c.ints(weightDims)]);
  }
  // srcᵀ: [Cs, N, spatial…] → [g, Cs/g, N, spatial…]
  let t = c.op('Transpose', [src], { perm: [1, 0, ...Array.from({ length: r }, (_, i) => i + 2)] });
  t = pads(t);
  let patches: string;
  let slicesOf: string[] | undefined;
  if (K === 1 && w.strides.every((s) => s === 1) && srcPads.every((p) => p === 0)) patches = t;
  else {
    slicesOf = offsets.map((o) => slice(t, o));
    // [Cs, N, L] per offset → reshape each to [g, Cs/g, N·L] then concat along axis 1 = [g, K·Cs/g, N·L]
    const slices = slicesOf;
    patches = K === 1 ? slices[0]! : '';
    if (K > 1 && !(group === 1 && c.formulations.convWeight === 'patch-gemms')) {
      const grouped = slices.map((s) => c.op('Reshape', [s, c.ints([group, csg, -1])]));
      patches = c.op('Concat', grouped, { axis: 1 });
    }
  }
  if (group === 1 && K > 1 && c.formulations.convWeight === 'patch-gemms') {
    // One Gemm per kernel offset straight from each slice: no Concat copy of the patches.
    const oT = c.op('Reshape', [c.op('Transpose', [other], { perm: [1, 0, 2] }), c.ints([otherChannels, -1])]);
    const flat = c.ints([csg, -1]);
    const parts = slicesOf!.map((sl) =>
      c.op('Unsqueeze', [c.op('Gemm', [oT, c.op('Reshape', [sl, flat])], { transB: 1 }), c.ints([2])]),
    );
    // [Co, Cs, 1] × K → [Co, Cs, K]
    return c.op('Reshape', [c.op('Concat', parts, { axis: 2 }), c.ints(weightDims)]);
  }
  const P = c.op('Reshape', [patches, c.ints([group, K * csg, -1])]);
  if (group === 1) {
    // otherᵀ [Co, N·L] is a block transpose (L-long runs stay contiguous: cheap), then ONE Gemm
    // with transB: R = otherᵀ · Pᵀ → [Co, K·Cs]; no element-wise transpose of a big tensor.
    const oT = c.op('Reshape', [c.op('Transpose', [other], { perm: [1, 0, 2] }), c.ints([otherChannels, -1])]);
    const P2 = c.op('Reshape', [P, c.ints([K * csg, -1])]);
    if (tallWeightGemm(c, K * csg, otherChannels)) {
      // Rᵀ = P · otherᵀᵀ [K·Cs, Co] → [K, Cs, Co] → [Co, Cs, K] (formulation weightGemm 'tall').
      const Rt = c.op('Gemm', [P2, oT], { transB: 1 });
      const T = c.op('Transpose', [c.op('Reshape', [Rt, c.ints([K, csg, cog])])], { perm: [2, 1, 0] });
      return c.op('Reshape', [T, c.ints(weightDims)]);
    }
    const R = c.op('Gemm', [oT, P2], { transB: 1 });
    const T = c.op('Transpose', [c.op('Reshape', [R, c.ints([cog, K, csg])])], { perm: [0, 2, 1] });
    return c.op('Reshape', [T, c.ints(weightDims)]);
  }
  // other [N, Co, L] → [N, g, Co/g, L] → [g, N, L, Co/g] → [g, N·L, Co/g]
  const o4 = c.op('Reshape', [other, c.ints([-1, group, cog, L])]);
  const O = c.op('Reshape', [c.op('Transpose', [o4], { perm: [1, 0, 3, 2] }), c.ints([group, -1, cog])]);
  const R = c.op('MatMul', [P, O]);
  const R4 = c.op('Reshape', [R, c.ints([group, K, csg, cog])]);
  const T = c.op('Transpose', [R4], { perm: [0, 3, 2, 1] });
  return c.op('Reshape', [T, c.ints(weightDims)]);
}

/**
 * Depthwise weight gradient as ONE depthwise convolution in onnxruntime's NCHWc layout (formulation
 * depthwiseWeight 'nchwc-stacked'): dW[c, i, j] = Σₙ Σₕ,w xpad[n, c, s·h + i, s·w + j] · dY[n, c, h, w]
 * is a per-channel correlation of the images stacked along the rows with dY stacked the same way.
 * Each padded image gets R rows (its padded height rounded up to a multiple of the stride s, extra
 * rows zero): x' [1, C, N·R, Wp]; dY's images get R/s rows each (Ho of them dY, the rest zero) and
 * the last image's zero rows are dropped, so kernel row n·R/s + h (dilated by s) meets x' row
 * n·R + s·h + i: image n's own rows for every output row i < kh — the zero rows keep images apart.
 * The filter is ReorderInput(dY') itself (the depthwise NCHWc filter layout [C/B, kh', kw', B]);
 * channels C static, the batch only in the kernel's height (no kernel_shape attribute: taken from
 * the filter), so a symbolic batch is fine. onnxruntime's grouped Conv instead im2col-copies
 * K·N·C·L floats per step. 2-D, dilation 1, C a multiple of 4; else undefined (the grouped Conv).
 */
export function nchwcDepthwiseWeightGrad(
  c: NodeView,
  x: string,
  dy: string,
  w: Window,
  weightDims: number[],
): string | undefined {
  const block = c.formulations.nchwcBlock;
  const channels = weightDims[0]!;
  if (c.formulations.depthwiseWeight !== 'nchwc-stacked' || !nchwcApplies(c, w, channels)) return undefined;
  const [sh, sw] = w.strides as [number, number];
  const [h, wd] = w.inSize as [number, number];
  const [ho, wo] = w.outSize as [number, number];
  const [pt, pl, pb, pr] = w.pads as [number, number, number, number];
  const hp = h + pt + pb;
  const rows = Math.ceil(hp / sh) * sh;
  const wp = wd + pl + pr;
  const cp = Math.ceil(channels / block) * block;
  const nchwc = nchwcOp(c);
  // x' [1, C, N·R, Wp]: images one under the other, each padded (and to R rows).
  const xt = c.op('Pad', [
    c.op('Transpose', [x], { perm: [1, 0, 2, 3] }),
    c.ints([0, 0, pt, pl, 0, 0, pb + rows - hp, pr]),
  ]);
  const input = nchwc('ReorderInput', [c.op('Reshape', [xt, c.ints([1, channels, -1, wp])])]);
  // dY' [1, C, (N−1)·R/s + Ho, Wo]: each image's rows followed by R/s − Ho zero rows, the last's dropped.
  const gap = rows / sh - ho;
  let dyt = c.op('Transpose', [dy], { perm: [1, 0, 2, 3] });
  if (gap > 0) dyt = c.op('Pad', [dyt, c.ints([0, 0, 0, 0, 0, 0, gap, 0])]);
  dyt = c.op('Reshape', [dyt, c.ints([1, channels, -1, wo])]);
  if (gap > 0) dyt = c.op('Slice', [dyt, c.ints([0]), c.ints([-gap]), c.ints([2])]);
  const filter = c.op('Reshape', [nchwc('ReorderInput', [dyt]), c.ints([cp, 1, -1, wo])]);
  const r = nchwc('Conv', [input, filter], { group: cp, dilations: [sh, sw] });
  // Output rows R − (Ho−1)·s ≥ kh and columns Wp − (Wo−1)·s ≥ kw: the first kh × kw are dW.
  const dW = c.op('Slice', [
    nchwc('ReorderOutput', [r], { channels }),
    c.ints([0, 0]),
    c.ints(w.kernel),
    c.ints([2, 3]),
  ]);
  return c.op('Reshape', [dW, c.ints(weightDims)]);
}

/**
 * Depthwise weight gradient (groups = channels, one input channel per group) as ONE grouped Conv
 * whose kernel is the upstream gradient: with the batch folded into each group's input channels,
 * dW[c, k] = Σₙ Σₒ xpad[n, c, o·s + k·d] · dY[n, c, o] is a correlation of xᵀ [1, C·N, H, W] with
 * dYᵀ [C, N, Ho, Wo] (group C, the forward's strides as dilations and dilations as strides). It
 * replaces K strided slices and their Concat (K·N·C·L copied twice) by onnxruntime's own im2col.
 * Measured on mobilenet_v2 (96×96, batch 32, SGD), whole training step, 4 interleaved pairs each
 * in two runs: 22–32% less time per step than the patches form.
 */
export function depthwiseWeightGrad(c: NodeView, x: string, dy: string, w: Window, weightDims: number[]): string {
  const r = w.kernel.length;
  const perm = [1, 0, ...Array.from({ length: r }, (_, i) => i + 2)];
  const channels = weightDims[0]!;
  const xt = c.op('Reshape', [c.op('Transpose', [x], { perm }), c.ints([1, -1, ...w.inSize])]);
  const dyt = c.op('Transpose', [dy], { perm });
  // Output size (in + pads − dilated dY extent)/dilation + 1 may exceed the kernel when the forward
  // dropped trailing rows (floor): the first kernel positions are the gradient.
  const outSize = w.inSize.map(
    (n, i) =>
      Math.floor((n + w.pads[i]! + w.pads[i + r]! - ((w.outSize[i]! - 1) * w.strides[i]! + 1)) / w.dilations[i]!) + 1,
  );
  let R = c.op('Conv', [xt, dyt], {
    group: channels,
    pads: w.pads,
    strides: w.dilations,
    dilations: w.strides,
    kernel_shape: w.outSize,
  });
  if (outSize.some((o, i) => o !== w.kernel[i]))
    R = c.op('Slice', [
      R,
      c.ints(w.kernel.map(() => 0)),
      c.ints(w.kernel),
      c.ints(Array.from({ length: r }, (_, i) => i + 2)),
    ]);
  return c.op('Reshape', [R, c.ints(weightDims)]);
}
