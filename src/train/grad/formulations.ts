/**
 * Alternative formulations of the costliest gradients, kept selectable so bench/train-vs-pytorch
 * can measure them side by side (environment variables) and tests can check every variant.
 * Defaults are the measured winners on the seed CNN (see the rules' comments).
 */
export interface Formulations {
  /**
   * Conv weight gradient from im2col patches: 'patches' picks per convolution between one Gemm over
   * the batch-concatenated patches ('patches-gemm': transposes src and the upstream gradient) and a
   * batched MatMul per image summed over the batch ('patches-per-image': no big transposes; chosen
   * when the patch rows K·C are fewer than the output positions L, as for a first conv layer).
   * Alternatives: one Gemm per kernel offset without the concat copy ('patch-gemms'), or a Conv
   * over N↔C-transposed tensors ('conv').
   */
  convWeight: 'patches' | 'patches-gemm' | 'patches-per-image' | 'patch-gemms' | 'conv';
  /**
   * Conv input gradient: one ConvTranspose (default), or Col2Im of Wᵀ·dY as one batched MatMul
   * (opset 18+, groups 1, float32). Measured on the seed CNN's second conv in the whole training
   * step (onnxruntime profiler, three quiet A/B pairs): ConvTranspose 3.17-3.27 ms, MatMul + Col2Im
   * 2.7-3.6 ms; no gain, so it stays an alternative (in isolation it looked ~30% faster).
   */
  convInput: 'col2im' | 'conv-transpose';
  /** MaxPool gradient: pool Indices + MaxUnpool/ScatterElements, or SpaceToDepth/ArgMax/DepthToSpace (2×2/2 only). */
  maxPool: 'indices' | 'space-to-depth';
}

export const formulations: Formulations = {
  convWeight:
    (['conv', 'patch-gemms', 'patches-gemm', 'patches-per-image'] as const).find(
      (v) => v === process.env.VERGE_CONV_WGRAD,
    ) ?? 'patches',
  convInput: process.env.VERGE_CONV_DGRAD === 'col2im' ? 'col2im' : 'conv-transpose',
  maxPool: process.env.VERGE_MAXPOOL_GRAD === 'space-to-depth' ? 'space-to-depth' : 'indices',
};
