/**
 * Alternative formulations of the costliest gradients, kept selectable so bench/train-vs-pytorch
 * can measure them side by side (environment variables) and tests can check every variant.
 * Defaults are the measured winners on the seed CNN (see the rules' comments).
 */
export interface Formulations {
  /**
   * Conv weight gradient: one Gemm over concatenated im2col patches ('patches'), one Gemm per
   * kernel offset without the concat copy ('patch-gemms'), or a Conv over N↔C-transposed tensors.
   */
  convWeight: 'patches' | 'patch-gemms' | 'conv';
  /** MaxPool gradient: pool Indices + MaxUnpool/ScatterElements, or SpaceToDepth/ArgMax/DepthToSpace (2×2/2 only). */
  maxPool: 'indices' | 'space-to-depth';
}

export const formulations: Formulations = {
  convWeight:
    process.env.VERGE_CONV_WGRAD === 'conv'
      ? 'conv'
      : process.env.VERGE_CONV_WGRAD === 'patch-gemms'
        ? 'patch-gemms'
        : 'patches',
  maxPool: process.env.VERGE_MAXPOOL_GRAD === 'space-to-depth' ? 'space-to-depth' : 'indices',
};
