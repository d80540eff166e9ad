/**
 * Alternative formulations of the costliest gradients: an option of buildTrainingGraph /
 * TrainingSession / buildGradientModel (`formulations`), so the graph depends on its arguments
 * only, never on the shell or on another caller. Defaults are the measured winners (see each
 * field); bench/train-vs-pytorch `--formulations k=v,…` measures any other choice side by side.
 */
import { VergeError } from '../../errors.ts';

export interface Formulations {
  /**
   * Conv weight gradient from im2col patches: 'patches' picks per convolution between one Gemm over
   * the batch-concatenated patches ('patches-gemm': transposes src and the upstream gradient) and a
   * batched MatMul per image summed over the batch ('patches-per-image': no big transposes; chosen
   * when the patch rows K·C are fewer than the output positions L, as for a first conv layer).
   * Forcing either form is kept for measurement and for the finite-difference checks of both.
   * 'patch-gemms': one Gemm per kernel offset straight from each slice (no Concat copy).
   * 'nchwc-conv': group-1 2-D stride-1 convs (kernel > 1×1, output channels a
   * multiple of 4) get dW as ONE convolution in onnxruntime's NCHWc layout, Xᵀ ⋆ dYᵀ with the batch
   * (padded to the block) as its channels (conv-weight.ts nchwcWeightGrad); other convs, and any
   * conv without NCHWc kernels (nchwcBlock 0), as 'patches'. Measured against 'patches' (whole
   * training step, bench/train-models --alternative, 2 threads, 4 interleaved rounds, CPU time per
   * step, load ~27): seed CNN 0.907×, resnet18 (64×64, B=32) 0.913×, every resnet18 round faster.
   * 'nchwc-strided' also takes strided convs (dYᵀ dilated by the stride: resnet18's
   * 7×7/2 stem and stride-2 3×3s, mobilenet_v2's stem) instead of K strided slices; resnet18 vs
   * 'nchwc-conv' (4 interleaved rounds, CPU time, load ~23): 0.973×, 3 of 4 rounds faster, peak
   * RSS −13 MB (ab-resnet18-nchwc-strided.json).
   * 'nchwc-deep' is 'nchwc-strided' except for stride-1 convs with fewer patch rows
   * K·C than output positions (a first layer over 1–3 channels), which keep the per-image patches:
   * reordering their large dY into an NCHWc filter (a 64-byte-run transpose) cost more than the
   * patches' batched MatMul. Seed CNN vs 'nchwc-strided' (5 interleaved rounds, CPU time, load ~17):
   * 0.937×, every round faster in wall time, RSS −8 MB (ab-seed-nchwc-deep.json).
   * 'nchwc-deep-strided' (the default) also gives the per-image patches to STRIDED convs with
   * K·C < L and at most 3×3 kernel offsets: the 3×3/2 stems of squeezenet1_1 and mobilenet_v2 over
   * 3 channels (27 patch rows, 2,209 and 2,304 positions). In isolation (bench/conv-stem-grad:
   * forward + dW at batch 32, 2 threads, CPU time, medians of 21–41 interleaved runs, this AVX2 EPYC
   * at load 13–15) the per-image patches take 0.71–0.82× the NCHWc Conv's time on squeezenet's stem
   * and 0.78–0.91× on mobilenet_v2's in four runs (ab-amd-stem-grad*.json); resnet18's 7×7/2 stem
   * (49 strided slices) 0.91–1.12×, three of four slower, so kernels above 3×3 stay NCHWc. Whole
   * training step (bench/train-models --alternative, interleaved rounds, CPU time per step):
   * squeezenet1_1 0.968× (5 rounds, 3 lower, load ~13; ab-amd-stem-patches.json), mobilenet_v2
   * 0.905× (3 rounds, all lower, load ~20, more than its stem's ~2% share of the step: partly
   * the load; ab-amd-stem-patches-mobilenet.json); resnet18 unchanged (7×7 stem).
   */
  convWeight:
    | 'nchwc-deep-strided'
    | 'nchwc-strided'
    | 'nchwc-deep'
    | 'nchwc-conv'
    | 'patches'
    | 'patches-gemm'
    | 'patches-per-image'
    | 'patch-gemms';
  /**
   * Conv input gradient: one ConvTranspose (default), or Col2Im of Wᵀ·dY as one batched MatMul
   * (opset 18+, groups 1, float32). Measured on the seed CNN's second conv in the whole training
   * step (onnxruntime profiler, three quiet A/B pairs): ConvTranspose 3.17-3.27 ms, MatMul + Col2Im
   * 2.7-3.6 ms; no gain, so it stays an alternative (in isolation it looked ~30% faster).
   */
  convInput: 'conv-transpose' | 'col2im' | 'flipped-conv';
  /**
   * Depthwise Conv input gradient: ConvTranspose, or (stride 1) a depthwise Conv of dY with the
   * flipped kernel — onnxruntime's ConvTranspose runs one tiny GEMM + col2im per image and channel.
   * Strided depthwise convs always use ConvTranspose (a zero-interleaved dY was measured slower).
   */
  depthwiseInput: 'conv-transpose' | 'flipped-conv';
  /**
   * Depthwise Conv weight gradient: one depthwise NCHWc Conv over the images stacked along the rows
   * ('nchwc-stacked', the default; conv-weight.ts nchwcDepthwiseWeightGrad; without the NCHWc block,
   * or where it does not apply, the grouped Conv), or one grouped Conv whose kernel is dY
   * ('grouped-conv': onnxruntime im2col-copies K·N·C·L floats). mobilenet_v2 (96×96, B=32, SGD,
   * 2 threads, 4 interleaved rounds, CPU time per step): on the AVX-512 Xeon (block 16, load ~23)
   * 'nchwc-stacked' 0.981× of 'grouped-conv' (ab-mobilenet-dw-stacked.json: its convs 2–4× faster,
   * the stacking copies eat most of it); on the AVX2 EPYC (block 8), where the grouped Conv's
   * im2col GEMMs are its largest nodes, 0.852× at load 5–25 (ab-amd-mobilenet-dw-stacked.json) and
   * 0.792× at load ~40 (ab-amd-mobilenet-dw-stacked-2.json), every round lower in both.
   */
  depthwiseWeight: 'nchwc-stacked' | 'grouped-conv';
  /**
   * Group-1 convs with at most 4/16/64 output positions per image train as im2col over the whole
   * batch and one GEMM per direction (Conv.ts batchedConv), or never ('off').
   */
  batchedConv: 'off' | 'upto4' | 'upto16' | 'upto64';
  /**
   * MaxPool whose windows tile the input (kernel = stride, no pads): the pool with argmax Indices
   * and MaxUnpool ('indices', the default; always used for overlapping or padded pools), or the
   * plain pool with the gradient from a first-maximum mask of its output ('mask', MaxPool.ts).
   * Measured on the seed CNN (Adam, batch 64, CPU time per step, interleaved, load ~25 on 2 cores):
   * 'mask' 168 ms vs 68 ms at 2 threads — onnxruntime's Equal/Where over the window-split 6-D view
   * broadcast one element at a time; Resize-upsampled and strided-slice forms of the same mask
   * (pool-sized operands, no broadcast) measured 1.6–3× the Indices pool + MaxUnpool in isolation.
   * 'slices' (MaxPool.ts slicesGrad): any 2-D pool (overlapping, padded, ceil_mode) from the plain
   * pool and strided slices of its input at the pooled size, first maximum of each window by a
   * Where/Sub chain, sub-grids summed and interleaved by DepthToSpace: no Indices, no
   * ScatterElements. Measured against 'indices' (bench/train-models --alternative, 2 threads,
   * interleaved rounds, CPU time per step, load 19–27): seed CNN 1.34× (ab-seed-maxpool-slices.json),
   * resnet18 1.01× (ab-resnet18-maxpool-slices.json) — onnxruntime's ~14 small element-wise passes
   * per 2×2 pool cost more than its scalar Indices kernel, so 'indices' stays the default. On
   * squeezenet1_1's overlapping 3×3/2 ceil_mode pools (this AVX2 EPYC, 5 interleaved rounds, CPU
   * time, load ~10): 'slices' 1.48×, every round slower (ab-amd-squeezenet-maxpool-slices.json).
   * 'space-to-depth' (MaxPool.ts depthGrad): tiling square 2-D pools from SpaceToDepth offsets
   * compared with the output over long contiguous runs (no 6-D broadcast); seed CNN on the Zen 5
   * EPYC (block 16, 2 threads, 5 interleaved rounds, CPU time per step, load ~12): 1.134×
   * (ab-zen5-seed.json) — onnxruntime's SpaceToDepth/DepthToSpace are single-threaded Eigen shuffles.
   */
  maxPool: 'mask' | 'indices' | 'slices' | 'space-to-depth';
  /**
   * Layout of the training graph's 3×3-class convolutions (forward and input gradients; see
   * lower/nchwc.ts): onnxruntime's blocked NCHWc kernels where this onnxruntime has them ('nchwc',
   * the default; a TrainingSession asks the runtime for the block size, and on onnxruntime-web or
   * a CPU without AVX2 the graph keeps plain Convs), or always plain NCHW Convs ('nchw').
   */
  convLayout: 'nchwc' | 'nchw';
  /**
   * Orientation of the one-Gemm conv weight gradient (conv-weight.ts, and the batch-wide convs of
   * Conv.ts): 'tall' computes Rᵀ = P·dYᵀ [K·C, M] when the patch rows K·C outnumber the output
   * channels M (then one small transpose to the weight's layout), 'as-weight' always R = dY·Pᵀ
   * [M, K·C]. MLAS runs a long-K GEMM faster with the larger side as its rows. Measured in
   * isolation (onnxruntime profiler, 2 threads, this Xeon, load ~22, fastest of 40 runs): the seed
   * CNN's conv2 [64, 288]·K 7,744 2.32 → 1.82 ms; resnet18-like [512, 4,608]·128 5.57 → 2.14 ms,
   * [128, 1,152]·2,048 6.93 → 1.98 ms, [256, 2,304]·512 unchanged; [144, 24] the other way round
   * 0.58 → 1.14 ms (hence only when K·C > M). In the whole training step (bench/train-models
   * --alternative, CPU time, 4 interleaved rounds, load ~33) no difference: seed CNN and resnet18
   * 'as-weight' 0.992× and 0.999× of 'tall' — so 'as-weight' stays the default.
   */
  weightGemm: 'tall' | 'as-weight';
  /**
   * NCHWc weight gradients with a symbolic batch, which must be padded to the block: 'if' (the
   * default) pads only when the batch is not a multiple of the block (an If over the two forms; a
   * Pad by zero rows still copies x and dY), 'always' pads every step. Seed CNN (batch 64, 2
   * threads, 5 interleaved rounds, CPU time per step, load ~22): 'always' 1.072× of 'if'
   * (ab-seed-batchpad-always.json).
   */
  batchPad: 'if' | 'always';
  /**
   * Activation gradients (Relu, Clip): dY · Cast(mask) ('mul', the default) or Where(mask, dY, 0)
   * ('where': one pass fewer, but onnxruntime's Where is slower than Cast + Mul). mobilenet_v2
   * (ReLU6 everywhere; 96×96, B=32, SGD, 2 threads, 4 interleaved rounds, CPU time, load ~26):
   * 'where' 1.099×, peak RSS +45 MB (ab-mobilenet-activation-where.json).
   */
  activationMask: 'mul' | 'where';
  /**
   * GRU nodes (PyTorch's form: linear_before_reset 1, layout 0, default activations, fixed
   * sequence length): lowered to primitives and differentiated through them ('unrolled', the
   * default; lower/recurrent.ts: 2,405 nodes for the 50-step GRU of bench/train-models), or
   * differentiated as one op ('fused': onnxruntime's GRU kernel forward, the gates of all steps
   * recomputed at once from Y, four nodes per step backward; GRU.ts: 311 nodes). The lowering
   * (lowerRecurrent, lowerRecurrentFor) reads this choice. Measured on that GRU (B=64, H=64,
   * T=50; SGD; the same training graphs run interleaved in one process, 7 rounds of 10 steps, this
   * Zen 5 VM with one niced FL run beside, load ~1.2): 'fused' 5.74 vs 5.34 ms per step at 1
   * thread, 8.9-10.0 vs 6.9-8.3 ms at 2 threads; bench/train-models --alternative (2 threads,
   * 5 rounds, load ~1.7) 'unrolled' 1.09× the fused samples/s. Fewer nodes did not pay: onnxruntime
   * runs the unrolled graph's ~2,200 small kernels at ~2.4 µs each, while the fused form does
   * ~50% more multiply-adds (the gates' recomputation, the 5-block recurrent Gemm) and ORT's GRU
   * kernel forward took ~1.5 ms of the step alone. Under heavier load (4-9) the fused form measured
   * 0.85-0.92× at 1 thread: node-heavy graphs suffer more from preemption. In the quiet window
   * (2 threads, 5 interleaved rounds, train-models-session14-gru-ab.json), against the unrolled
   * graph after session 14's autodiff changes (1,796 nodes): 'fused' 0.726× the samples/s,
   * 1.43× the CPU time per step.
   */
  gru: 'fused' | 'unrolled';
  /**
   * The gradient of a weight that several 2-D MatMuls read (an unrolled GRU/LSTM's recurrent
   * weight, once per step): a Gemm per MatMul and a Sum ('per-use', the default), or one Gemm
   * over all uses' rows stacked ('stacked': two Concats, one GEMM instead of T small ones). Bench
   * GRU: callgrind (valgrind runs onnxruntime's AVX2 path, 1 thread) 92.7M vs 70.3M instructions
   * per step; bench/train-models --alternative in the quiet window (2 threads, 5 interleaved
   * rounds, load ~1.5 from the bench itself; train-models-session14-gru-ab.json) 0.958× the
   * samples/s, 1.046× the CPU time per step.
   */
  sharedWeight: 'per-use' | 'stacked';
  /**
   * LayerNormalization's gradient: one composite, dX = (g − mean(g) − x̂·mean(g·x̂))/std with
   * g = dY·γ ('composite', the default: 11 nodes, no Expand), or through the primitives of its
   * training forward ('primitives'). Bench transformer (5 LayerNorms; 505 vs 560 nodes), quiet
   * window, 2 threads, 5 interleaved rounds (train-models-session14-transformer-ab.json):
   * 'primitives' 0.947× the samples/s, 1.163× the CPU time per step.
   */
  layerNorm: 'composite' | 'primitives';
  /**
   * Block size of onnxruntime's NCHWc kernels for the graph's own NCHWc nodes (convWeight
   * 'nchwc-conv'): not a choice but a property of the runtime, set by TrainingSession from the probe
   * (runtime nchwcBlockSize: 16 with AVX-512, 8 with AVX2); 0 (the default) emits no NCHWc node.
   */
  nchwcBlock: 0 | 8 | 16;
}

export const DEFAULT_FORMULATIONS: Readonly<Formulations> = Object.freeze({
  convWeight: 'nchwc-deep-strided',
  convInput: 'flipped-conv',
  depthwiseInput: 'flipped-conv',
  depthwiseWeight: 'nchwc-stacked',
  batchedConv: 'upto16',
  maxPool: 'indices',
  convLayout: 'nchwc',
  weightGemm: 'as-weight',
  activationMask: 'mul',
  batchPad: 'if',
  gru: 'unrolled',
  sharedWeight: 'per-use',
  layerNorm: 'composite',
  nchwcBlock: 0,
});

const CHOICES: { readonly [K in keyof Formulations]: readonly Formulations[K][] } = {
  convWeight: [
    'nchwc-deep-strided',
    'nchwc-strided',
    'nchwc-deep',
    'nchwc-conv',
    'patches',
    'patches-gemm',
    'patches-per-image',
    'patch-gemms',
  ],
  convInput: ['conv-transpose', 'col2im', 'flipped-conv'],
  depthwiseInput: ['conv-transpose', 'flipped-conv'],
  depthwiseWeight: ['nchwc-stacked', 'grouped-conv'],
  batchedConv: ['off', 'upto4', 'upto16', 'upto64'],
  maxPool: ['indices', 'slices', 'mask', 'space-to-depth'],
  convLayout: ['nchwc', 'nchw'],
  weightGemm: ['as-weight', 'tall'],
  activationMask: ['mul', 'where'],
  batchPad: ['if', 'always'],
  gru: ['unrolled', 'fused'],
  sharedWeight: ['per-use', 'stacked'],
  layerNorm: ['composite', 'primitives'],
  nchwcBlock: [0, 8, 16],
};

/**
 * The defaults with `choice` applied, checked (a typo fails instead of silently measuring the
 * default). The defaults are the same for NCHWc blocks 8 and 16: every block-dependent choice was
 * measured on both (session 12's block-16 A/Bs kept each block-8 winner).
 */
export function resolveFormulations(choice: Partial<Formulations> = {}): Readonly<Formulations> {
  for (const [k, v] of Object.entries(choice)) {
    const allowed = CHOICES[k as keyof Formulations] as readonly string[] | undefined;
    if (!allowed)
      throw new VergeError('E_BAD_ARGUMENT', `unknown formulation '${k}' (known: ${Object.keys(CHOICES).join(', ')})`);
    if (v !== undefined && !allowed.includes(v as string))
      throw new VergeError('E_BAD_ARGUMENT', `formulation ${k} must be one of ${allowed.join(', ')}, got '${v}'`);
  }
  return Object.freeze({ ...DEFAULT_FORMULATIONS, ...choice });
}

/** Parse `convWeight=patches-gemm,convInput=col2im` (benchmarks' command lines). */
export function parseFormulations(spec: string): Partial<Formulations> {
  const out: Record<string, string> = {};
  for (const part of spec.split(',').filter(Boolean)) {
    const [k, v] = part.split('=');
    if (!k || !v) throw new VergeError('E_BAD_ARGUMENT', `formulations are given as name=value, got '${part}'`);
    out[k.trim()] = v.trim();
  }
  resolveFormulations(out as Partial<Formulations>);
  return out as Partial<Formulations>;
}
