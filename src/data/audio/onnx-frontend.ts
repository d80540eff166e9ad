/**
 * The speech front end of features.ts as ONNX nodes (opset 17, standard ops only), so a deployed
 * model takes raw waveforms: framing by Gather, DC removal, pre-emphasis + window + real DFT folded
 * into one MatMul, power, mel filterbank, log, DCT with lifter, the energy VAD span (ArgMax of the
 * voiced mask from each end), CMN over the span, and deltas by GatherElements with clamped indices.
 *
 * Batches of different lengths work: each utterance's span is moved to frame 0 and `mask` marks its
 * valid frames (1) and the padding after them (0); features past the span are 0.
 */
import type { GraphBuilder } from '../../onnx/browser.ts';
import { energyFloor, type FeatureOptions } from './features.ts';
import { LOG_FLOOR, mfccPlan } from './mfcc.ts';

export interface FrontEndOutputs {
  /** [B, F, dim] float32, aligned to each utterance's first voiced frame, 0 past its span. */
  features: string;
  /** [B, F] float32: 1 for frames of the span, 0 after. */
  mask: string;
}

/** Pre-emphasis, window and the cos/sin DFT columns as one [L, 2·(fft/2+1)] matrix; mel bank stacked twice. */
function spectralMatrices(opts: FeatureOptions): {
  analysis: Float32Array;
  mel: Float32Array;
  dct: Float32Array;
  bins: number;
} {
  const plan = mfccPlan(opts.mfcc);
  const { frameLength: L, fftSize: N, window: w, melBank, dct } = plan;
  const k = opts.mfcc.preemphasis;
  const bins = N / 2 + 1;
  // y = x·P with y_i = (x_i - k·x_{i-1})·w_i (y_0 = (1-k)·x_0·w_0); then Re/Im of the DFT of y.
  const analysis = new Float32Array(L * 2 * bins);
  for (let i = 0; i < L; i++) {
    for (let f = 0; f < bins; f++) {
      let re = 0;
      let im = 0;
      // row i of P·C: x_i contributes w_i to y_i and -k·w_{i+1} to y_{i+1}
      const terms: [number, number][] = [[i, i === 0 ? (1 - k) * w[0]! : w[i]!]];
      if (i + 1 < L) terms.push([i + 1, -k * w[i + 1]!]);
      for (const [j, c] of terms) {
        const a = (2 * Math.PI * j * f) / N;
        re += c * Math.cos(a);
        im -= c * Math.sin(a);
      }
      analysis[i * 2 * bins + f] = re;
      analysis[i * 2 * bins + bins + f] = im;
    }
  }
  const M = opts.mfcc.numMelBins;
  const mel = new Float32Array(2 * bins * M);
  for (let f = 0; f < bins; f++)
    for (let m = 0; m < M; m++) mel[f * M + m] = mel[(bins + f) * M + m] = melBank[m * bins + f]!;
  const C = opts.mfcc.numCeps;
  const dctT = new Float32Array(M * C);
  for (let m = 0; m < M; m++) for (let c = 0; c < C; c++) dctT[m * C + c] = dct[c * M + m]!;
  return { analysis, mel, dct: dctT, bins };
}

/** Append the front end reading `waveform` [B, N] (float32 at opts.mfcc.sampleRate). */
export function addSpeechFrontEnd(b: GraphBuilder, waveform: string, opts: FeatureOptions): FrontEndOutputs {
  const plan = mfccPlan(opts.mfcc);
  const L = plan.frameLength;
  const S = plan.frameShift;
  const C = opts.mfcc.numCeps;
  const { analysis, mel, dct, bins } = spectralMatrices(opts);
  const i64 = (v: number): string => b.constInt64([v], [], 'fe_i64');
  const axis = (...a: number[]): string => b.constInt64(a, [a.length], 'fe_axes');

  // frames [B, F, L] = waveform[:, f·S + i]
  const n = b.op('Gather', [b.op('Shape', [waveform]), i64(1)], { axis: 0 });
  const F = b.op('Add', [b.op('Div', [b.op('Sub', [n, i64(L)]), i64(S)]), i64(1)]);
  const t = b.op('Range', [i64(0), F, i64(1)]);
  const starts = b.op('Unsqueeze', [b.op('Mul', [t, i64(S)]), axis(1)]);
  const idx = b.op('Add', [starts, b.op('Range', [i64(0), i64(L), i64(1)])]);
  const raw = b.op('Gather', [waveform, idx], { axis: 1 });
  const frames = opts.mfcc.removeDcOffset
    ? b.op('Sub', [raw, b.op('ReduceMean', [raw], { axes: [2], keepdims: 1 })])
    : raw;
  const eps = b.scalar(LOG_FLOOR, 'float32', 'fe_log_floor');
  const logE = b.op('Log', [
    b.op('Max', [b.op('ReduceSum', [b.op('Mul', [frames, frames]), axis(2)], { keepdims: 0 }), eps]),
  ]);

  // MFCC [B, F, C]
  const spec = b.op('MatMul', [frames, b.initializer('fe_analysis', 'float32', [L, 2 * bins], analysis)]);
  const power = b.op('Mul', [spec, spec]);
  const melE = b.op('MatMul', [power, b.initializer('fe_mel', 'float32', [2 * bins, opts.mfcc.numMelBins], mel)]);
  const logMel = b.op('Log', [b.op('Max', [melE, eps])]);
  const ceps = b.op('MatMul', [logMel, b.initializer('fe_dct', 'float32', [opts.mfcc.numMelBins, C], dct)]);

  // voiced span [first, last] per utterance; all-silent -> ArgMax gives 0 and F-1: the whole utterance
  let first: string;
  let last: string;
  if (opts.vad) {
    const maxE = b.op('ReduceMax', [logE], { axes: [1], keepdims: 1 });
    const rel = b.op('Sub', [maxE, b.scalar((opts.vad.relativeDb / 10) * Math.LN10, 'float32', 'fe_vad_rel')]);
    const thr = b.op('Max', [rel, b.scalar(energyFloor(opts.vad.floorDbfs, L), 'float32', 'fe_vad_floor')]);
    const voiced = b.op('Cast', [b.op('Greater', [logE, thr])], { to: 1 });
    first = b.op('ArgMax', [voiced], { axis: 1, keepdims: 0 });
    last = b.op('ArgMax', [voiced], { axis: 1, keepdims: 0, select_last_index: 1 });
  } else {
    const zeros = b.op('ReduceMin', [b.op('Mul', [b.op('Cast', [logE], { to: 7 }), i64(0)])], {
      axes: [1],
      keepdims: 0,
    });
    first = zeros;
    last = b.op('Add', [zeros, b.op('Sub', [F, i64(1)])]);
  }
  const len = b.op('Add', [b.op('Sub', [last, first]), i64(1)]); // [B]
  const tRow = b.op('Unsqueeze', [t, axis(0)]); // [1, F]
  const col = (v: string): string => b.op('Unsqueeze', [v, axis(1)]); // [B] -> [B, 1]
  const cepShape = b.op('Shape', [ceps]);
  const gatherFrames = (x: string, index: string): string =>
    b.op('GatherElements', [x, b.op('Expand', [b.op('Unsqueeze', [index, axis(2)]), cepShape])], { axis: 1 });

  // move the span to frame 0; frames past it repeat its last frame (masked below)
  const aligned = gatherFrames(ceps, b.op('Min', [b.op('Add', [col(first), tRow]), col(last)]));
  const maskF = b.op('Cast', [b.op('Less', [tRow, col(len)])], { to: 1 }); // [B, F]
  const mask3 = b.op('Unsqueeze', [maskF, axis(2)]);
  let statics = aligned;
  if (opts.cmn) {
    const sum = b.op('ReduceSum', [b.op('Mul', [aligned, mask3]), axis(1)], { keepdims: 1 });
    const count = b.op('Unsqueeze', [b.op('Cast', [len], { to: 1 }), axis(1, 2)]);
    statics = b.op('Sub', [aligned, b.op('Div', [sum, count])]);
  }
  const parts = [statics];
  if (opts.deltaOrder > 0) {
    const lastValid = b.op('Sub', [col(len), i64(1)]);
    const W = opts.deltaWindow;
    let denom = 0;
    for (let k = 1; k <= W; k++) denom += 2 * k * k;
    const ahead: string[] = [];
    const behind: string[] = [];
    for (let k = 1; k <= W; k++) {
      ahead.push(b.op('Min', [b.op('Add', [tRow, i64(k)]), lastValid]));
      behind.push(b.op('Max', [b.op('Sub', [tRow, i64(k)]), i64(0)]));
    }
    for (let o = 1; o <= opts.deltaOrder; o++) {
      const x = parts[o - 1]!;
      let acc: string | undefined;
      for (let k = 1; k <= W; k++) {
        const diff = b.op('Sub', [gatherFrames(x, ahead[k - 1]!), gatherFrames(x, behind[k - 1]!)]);
        const term = b.op('Mul', [diff, b.scalar(k / denom, 'float32', 'fe_delta_w')]);
        acc = acc ? b.op('Add', [acc, term]) : term;
      }
      parts.push(acc!);
    }
  }
  const stacked = parts.length > 1 ? b.op('Concat', parts, { axis: 2 }) : parts[0]!;
  const features = b.op('Mul', [stacked, mask3]);
  return { features, mask: maskF };
}
