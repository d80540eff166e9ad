/**
 * A WordRecognizer as one ONNX model: waveform [batch, samples] at the recognizer's rate -> the
 * speech front end (data/audio/onnx-frontend.ts) -> per-state emission log-densities of every word
 * model -> the forward algorithm as a Scan over frames (log-sum-exp over predecessor states, frames
 * past each utterance's span leave the state unchanged) -> log_likelihood [batch, words] and their
 * softmax, probabilities. Opset 17, IR 8: what ONNX 1.12's checker understands.
 */
import { AUDIO_METADATA, mfccPlan, addSpeechFrontEnd } from '../data/browser.ts';
import { VergeError } from '../errors.ts';
import { GraphBuilder, makeModel, emptyGraph, type Model } from '../onnx/browser.ts';
import { GMMHMM } from './gmm-hmm.ts';
import type { GaussianSet } from './gaussian.ts';
import { cholesky, invertLower } from './matrix.ts';
import type { WordRecognizer } from './recognizer.ts';

export const RECOGNIZER_OPSET = 17;
export const RECOGNIZER_IR_VERSION = 8;
/** Stands for log 0 in float32 graphs: exp(LOG_ZERO - anything finite) is exactly 0, and sums of a few stay finite. */
export const LOG_ZERO = -1e30;

const LOG_2PI = Math.log(2 * Math.PI);

/** All word models' components in one set, word-major: [W·K·M]. */
function stackedComponents(rec: WordRecognizer): { g: GaussianSet; logWeights: Float32Array; K: number; M: number } {
  const first = rec.models[0]!;
  const K = first.n_components;
  const M = first instanceof GMMHMM ? first.n_mix : 1;
  const d = first.n_features;
  const type = first.covariance_type;
  for (const m of rec.models) {
    const mm = m instanceof GMMHMM ? m.n_mix : 1;
    if (m.n_components !== K || mm !== M || m.covariance_type !== type || m.n_features !== d)
      throw new VergeError(
        'E_UNSUPPORTED',
        'the ONNX export needs word models of one shape (states, mixtures, covariance type)',
      );
  }
  const n = rec.models.length * K * M;
  const size = type === 'diag' ? d : d * d;
  const means = new Float64Array(n * d);
  const covars = new Float64Array(n * size);
  const logWeights = new Float32Array(n);
  rec.models.forEach((m, w) => {
    means.set(m.means_, w * K * M * d);
    covars.set(m.covars_, w * K * M * size);
    for (let j = 0; j < K * M; j++) logWeights[w * K * M + j] = m instanceof GMMHMM ? Math.log(m.weights_[j]!) : 0;
  });
  return { g: { n, d, type, means, covars }, logWeights, K, M };
}

/** log w_j + log N(x | μ_j, Σ_j) for all components: [B, F, n]. */
function emissionNodes(b: GraphBuilder, x: string, g: GaussianSet, logWeights: Float32Array): string {
  const { n, d } = g;
  const bias = new Float32Array(n);
  if (g.type === 'diag') {
    // -½Σ(x-μ)²/v = x²·(-½/v) + x·(μ/v) - ½Σμ²/v, one MatMul over [x², x]
    const w = new Float32Array(2 * d * n);
    for (let j = 0; j < n; j++) {
      let logDet = 0;
      let quad = 0;
      for (let k = 0; k < d; k++) {
        const v = g.covars[j * d + k]!;
        const mu = g.means[j * d + k]!;
        logDet += Math.log(v);
        quad += (mu * mu) / v;
        w[k * n + j] = -0.5 / v;
        w[(d + k) * n + j] = mu / v;
      }
      bias[j] = -0.5 * (d * LOG_2PI + logDet + quad) + logWeights[j]!;
    }
    const both = b.op('Concat', [b.op('Mul', [x, x]), x], { axis: 2 });
    return b.op('Add', [
      b.op('MatMul', [both, b.initializer('hmm_quadratic', 'float32', [2 * d, n], w)]),
      b.initializer('hmm_bias', 'float32', [n], bias),
    ]);
  }
  // full: y_j = L_j⁻¹x - L_j⁻¹μ_j, log N = -½(d log 2π + log|Σ_j| + |y_j|²)
  const G = new Float32Array(d * n * d);
  const h = new Float32Array(n * d);
  for (let j = 0; j < n; j++) {
    const L = cholesky(g.covars.subarray(j * d * d, (j + 1) * d * d), d, `covariance of component ${j}`);
    const inv = invertLower(L, d);
    let logDet = 0;
    for (let a = 0; a < d; a++) {
      logDet += 2 * Math.log(L[a * d + a]!);
      let s = 0;
      for (let c = 0; c < d; c++) {
        G[c * n * d + j * d + a] = inv[a * d + c]!;
        s += inv[a * d + c]! * g.means[j * d + c]!;
      }
      h[j * d + a] = s;
    }
    bias[j] = -0.5 * (d * LOG_2PI + logDet) + logWeights[j]!;
  }
  const y = b.op('Sub', [
    b.op('MatMul', [x, b.initializer('hmm_whiten', 'float32', [d, n * d], G)]),
    b.initializer('hmm_whitened_means', 'float32', [n * d], h),
  ]);
  const y4 = b.op('Reshape', [y, b.constInt64([0, 0, n, d])]);
  const q = b.op('ReduceSum', [b.op('Mul', [y4, y4]), b.constInt64([3])], { keepdims: 0 });
  return b.op('Add', [b.op('Mul', [q, b.scalar(-0.5)]), b.initializer('hmm_bias', 'float32', [n], bias)]);
}

/** The Scan body: α_t = where(valid_t, logsumexp_i(α_{t-1,i} + log A_ij) + e_t, α_{t-1}). */
function forwardBody(logA: string, unsqueezeAxis: string): GraphBuilder {
  const body = new GraphBuilder(emptyGraph('forward_step'));
  const alpha = body.input('fw_alpha_in', 'float32', ['batch', 'fw_words', 'fw_states']);
  const e = body.input('fw_emission', 'float32', ['batch', 'fw_words', 'fw_states']);
  const valid = body.input('fw_valid', 'bool', ['batch', 1, 1]);
  // Explicit names: a subgraph's names must not repeat the outer graph's (SSA), which this builder does not see.
  const column = body.op('Unsqueeze', [alpha, unsqueezeAxis], {}, { output: 'fw_alpha_column' });
  const paths = body.op('Add', [column, logA], {}, { output: 'fw_paths' });
  const lse = body.op('ReduceLogSumExp', [paths], { axes: [2], keepdims: 0 }, { output: 'fw_best_paths' });
  const stepped = body.op('Add', [lse, e], {}, { output: 'fw_stepped' });
  const next = body.op('Where', [valid, stepped, alpha], {}, { output: 'fw_alpha_out' });
  body.output(next, 'float32', ['batch', 'fw_words', 'fw_states']);
  return body;
}

function logOf(p: ArrayLike<number>): Float32Array {
  return Float32Array.from(p, (v) => (v > 0 ? Math.log(v) : LOG_ZERO));
}

/** Build the recognizer's ONNX model (pure: the recognizer is not changed). */
export function exportRecognizer(rec: WordRecognizer): Model {
  const b = new GraphBuilder(emptyGraph('word_recognizer'));
  const waveform = b.input('waveform', 'float32', ['batch', 'samples']);
  const { features, mask } = addSpeechFrontEnd(b, waveform, rec.features);
  const { g, logWeights, K, M } = stackedComponents(rec);
  const W = rec.models.length;
  let logB = emissionNodes(b, features, g, logWeights); // [B, F, W·K·M]
  if (M > 1) {
    const mixes = b.op('Reshape', [logB, b.constInt64([0, 0, W * K, M])]);
    logB = b.op('ReduceLogSumExp', [mixes], { axes: [3], keepdims: 0 });
  }
  const e = b.op('Reshape', [logB, b.constInt64([0, 0, W, K])]); // [B, F, W, K]

  const pi = new Float32Array(W * K);
  const A = new Float32Array(W * K * K);
  rec.models.forEach((m, w) => {
    pi.set(logOf(m.startprob_), w * K);
    A.set(logOf(m.transmat_), w * K * K);
  });
  const logA = b.initializer('hmm_log_transmat', 'float32', [W, K, K], A);
  const alpha0 = b.op('Add', [
    b.op('Gather', [e, b.constInt64([0], [])], { axis: 1 }),
    b.initializer('hmm_log_startprob', 'float32', [W, K], pi),
  ]);
  const from1 = (v: string): string =>
    b.op('Slice', [v, b.constInt64([1]), b.constInt64([2 ** 62]), b.constInt64([1])]);
  const valid = b.op('Greater', [b.op('Unsqueeze', [from1(mask), b.constInt64([2, 3])]), b.scalar(0.5)]);
  const body = forwardBody(logA, b.constInt64([3], [1], 'fw_unsqueeze_axis'));
  const alphaT = b.op('Scan', [alpha0, from1(e), valid], {
    body: body.graph,
    num_scan_inputs: 2,
    scan_input_axes: [1, 1],
  });
  const ll = b.op('ReduceLogSumExp', [alphaT], { axes: [2], keepdims: 0 }, { output: 'log_likelihood' });
  const probs = b.op('Softmax', [ll], { axis: 1 }, { output: 'probabilities' });
  b.output(ll, 'float32', ['batch', W]);
  b.output(probs, 'float32', ['batch', W]);
  const model = makeModel(b.graph, {
    opset: RECOGNIZER_OPSET,
    irVersion: RECOGNIZER_IR_VERSION,
    docString: `isolated-word HMM recognizer: ${W} words, ${K} states${M > 1 ? ` of ${M} Gaussians` : ''} (${g.type}), input: mono waveform at ${rec.sampleRate} Hz`,
  });
  model.metadataProps = [
    { key: AUDIO_METADATA.input, value: 'audio/wav' },
    { key: AUDIO_METADATA.sampleRate, value: String(rec.sampleRate) },
    { key: AUDIO_METADATA.minSamples, value: String(mfccPlan(rec.features.mfcc).frameLength) },
    { key: AUDIO_METADATA.labels, value: JSON.stringify(rec.labels) },
  ];
  return model;
}
