/**
 * The HMM machinery shared by every emission model, in hmmlearn's shape and names: `fit` (Baum–Welch
 * in log space), `score` (forward log-likelihood), `decode`/`predict` (Viterbi), `predict_proba`,
 * `sample`, and the parameters `startprob_`, `transmat_` with `n_components`, `n_iter`, `tol`,
 * `params`, `init_params`, `random_state`. Subclasses supply the emission densities.
 */
import { rng } from '../data/browser.ts';
import { VergeError } from '../errors.ts';
import { asMatrix, logSumExp, rowSlice, type Matrix, type Observations } from './matrix.ts';

export type Topology = 'ergodic' | 'left-to-right';
export const TOPOLOGIES: readonly Topology[] = Object.freeze(['ergodic', 'left-to-right']);

export interface BaseHMMOptions {
  n_components?: number;
  /** Most EM iterations. hmmlearn's default 10. */
  n_iter?: number;
  /** Stop when the log-likelihood gains less than this in one iteration. hmmlearn's default 1e-2. */
  tol?: number;
  /** Parameters EM updates: s startprob, t transmat, m means, c covars, w mixture weights. */
  params?: string;
  /** Parameters `fit` initializes before EM (the rest must be set by hand). */
  init_params?: string;
  random_state?: number;
  /**
   * 'ergodic': any state follows any; 'left-to-right': start in state 0, stay or move to the next
   * (zero transition probabilities stay zero under EM).
   */
  topology?: Topology;
}

export interface ConvergenceMonitor {
  /** Total log-likelihood of the training data before each M-step. */
  history: number[];
  iter: number;
  converged: boolean;
}

export interface DecodeResult {
  logprob: number;
  states: Int32Array;
}

export abstract class BaseHMM {
  n_components: number;
  n_iter: number;
  tol: number;
  params: string;
  init_params: string;
  random_state: number;
  topology: Topology;
  startprob_: Float64Array;
  transmat_: Float64Array;
  monitor_: ConvergenceMonitor = { history: [], iter: 0, converged: false };

  constructor(opts: BaseHMMOptions, defaultParams: string) {
    this.n_components = opts.n_components ?? 1;
    if (!(Number.isInteger(this.n_components) && this.n_components >= 1))
      throw new VergeError('E_BAD_ARGUMENT', `n_components must be a positive integer, got ${opts.n_components}`);
    this.n_iter = opts.n_iter ?? 10;
    this.tol = opts.tol ?? 1e-2;
    this.params = opts.params ?? defaultParams;
    this.init_params = opts.init_params ?? defaultParams;
    this.random_state = opts.random_state ?? 0;
    this.topology = opts.topology ?? 'ergodic';
    if (!TOPOLOGIES.includes(this.topology))
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `topology must be one of ${TOPOLOGIES.join(', ')}, got '${this.topology}'`,
      );
    this.startprob_ = new Float64Array(this.n_components);
    this.transmat_ = new Float64Array(this.n_components * this.n_components);
  }

  abstract get n_features(): number;
  /** log p(x_t | state k) for every frame: [T, K]. */
  abstract frameLogProb(X: Matrix): Float64Array;
  protected abstract initEmissions(X: Matrix, sequences: Matrix[]): void;
  protected abstract checkEmissions(): void;
  protected abstract emissionStep(sequences: Matrix[], posteriors: Float64Array[]): void;
  protected abstract sampleEmission(state: number, random: () => number): Float64Array;

  /** Split X into sequences by `lengths` (default: one sequence). */
  protected sequences(X: Matrix, lengths?: number[]): Matrix[] {
    if (!lengths) return [X];
    const total = lengths.reduce((a, b) => a + b, 0);
    if (total !== X.rows || lengths.some((l) => !(Number.isInteger(l) && l > 0)))
      throw new VergeError(
        'E_SHAPE_MISMATCH',
        `lengths must be positive and add up to ${X.rows} rows, they add up to ${total}`,
      );
    const out: Matrix[] = [];
    let at = 0;
    for (const l of lengths) {
      out.push(rowSlice(X, at, at + l));
      at += l;
    }
    return out;
  }

  protected initTopology(): void {
    const K = this.n_components;
    if (this.init_params.includes('s')) {
      this.startprob_.fill(this.topology === 'ergodic' ? 1 / K : 0);
      if (this.topology === 'left-to-right') this.startprob_[0] = 1;
    }
    if (this.init_params.includes('t')) {
      this.transmat_.fill(this.topology === 'ergodic' ? 1 / K : 0);
      if (this.topology === 'left-to-right') {
        for (let i = 0; i < K; i++) {
          if (i === K - 1) this.transmat_[i * K + i] = 1;
          else this.transmat_[i * K + i] = this.transmat_[i * K + i + 1] = 0.5;
        }
      }
    }
  }

  protected check(): void {
    const K = this.n_components;
    const rowOk = (a: Float64Array, from: number, n: number): boolean => {
      let s = 0;
      for (let i = from; i < from + n; i++) {
        if (!(a[i]! >= 0)) return false;
        s += a[i]!;
      }
      return Math.abs(s - 1) < 1e-6;
    };
    if (this.startprob_.length !== K || !rowOk(this.startprob_, 0, K))
      throw new VergeError('E_BAD_ARGUMENT', `startprob_ must be ${K} non-negative values summing to 1`);
    if (this.transmat_.length !== K * K) throw new VergeError('E_BAD_ARGUMENT', `transmat_ must be ${K}×${K}`);
    for (let i = 0; i < K; i++)
      if (!rowOk(this.transmat_, i * K, K))
        throw new VergeError('E_BAD_ARGUMENT', `row ${i} of transmat_ must be non-negative and sum to 1`);
    this.checkEmissions();
  }

  private logParams(): { logPi: Float64Array; logA: Float64Array } {
    return { logPi: this.startprob_.map(Math.log), logA: this.transmat_.map(Math.log) };
  }

  /** Forward pass in log space: log α [T, K] and the sequence's log-likelihood. */
  forward(logB: Float64Array, T: number): { logAlpha: Float64Array; logprob: number } {
    const K = this.n_components;
    const { logPi, logA } = this.logParams();
    const a = new Float64Array(T * K);
    const tmp = new Float64Array(K);
    for (let k = 0; k < K; k++) a[k] = logPi[k]! + logB[k]!;
    for (let t = 1; t < T; t++) {
      for (let j = 0; j < K; j++) {
        for (let i = 0; i < K; i++) tmp[i] = a[(t - 1) * K + i]! + logA[i * K + j]!;
        a[t * K + j] = logSumExp(tmp) + logB[t * K + j]!;
      }
    }
    return { logAlpha: a, logprob: logSumExp(a, (T - 1) * K, T * K) };
  }

  private backward(logB: Float64Array, T: number): Float64Array {
    const K = this.n_components;
    const { logA } = this.logParams();
    const b = new Float64Array(T * K);
    const tmp = new Float64Array(K);
    for (let t = T - 2; t >= 0; t--) {
      for (let i = 0; i < K; i++) {
        for (let j = 0; j < K; j++) tmp[j] = logA[i * K + j]! + logB[(t + 1) * K + j]! + b[(t + 1) * K + j]!;
        b[t * K + i] = logSumExp(tmp);
      }
    }
    return b;
  }

  /** State posteriors γ [T, K], expected transition counts Σ_t ξ_t [K, K] and the log-likelihood. */
  protected posteriors(X: Matrix): { gamma: Float64Array; xi: Float64Array; logprob: number } {
    const K = this.n_components;
    const T = X.rows;
    const logB = this.frameLogProb(X);
    const { logAlpha, logprob } = this.forward(logB, T);
    if (!Number.isFinite(logprob))
      throw new VergeError(
        'E_DATA_INVALID',
        'a sequence has zero probability under the model (check topology and data)',
      );
    const logBeta = this.backward(logB, T);
    const { logA } = this.logParams();
    const gamma = new Float64Array(T * K);
    for (let i = 0; i < T * K; i++) gamma[i] = Math.exp(logAlpha[i]! + logBeta[i]! - logprob);
    const xi = new Float64Array(K * K);
    for (let t = 0; t + 1 < T; t++)
      for (let i = 0; i < K; i++) {
        const ai = logAlpha[t * K + i]! - logprob;
        for (let j = 0; j < K; j++) {
          const l = logA[i * K + j]!;
          if (l === -Infinity) continue;
          xi[i * K + j]! += Math.exp(ai + l + logB[(t + 1) * K + j]! + logBeta[(t + 1) * K + j]!);
        }
      }
    return { gamma, xi, logprob };
  }

  /** Baum–Welch: initialize what `init_params` names, then EM until `tol` or `n_iter`. */
  fit(X: Observations, lengths?: number[]): this {
    const M = asMatrix(X);
    const seqs = this.sequences(M, lengths);
    this.initTopology();
    this.initEmissions(M, seqs);
    this.check();
    const K = this.n_components;
    this.monitor_ = { history: [], iter: 0, converged: false };
    for (let iter = 1; iter <= this.n_iter; iter++) {
      const start = new Float64Array(K);
      const trans = new Float64Array(K * K);
      const gammas: Float64Array[] = [];
      let total = 0;
      for (const s of seqs) {
        const { gamma, xi, logprob } = this.posteriors(s);
        total += logprob;
        for (let k = 0; k < K; k++) start[k]! += gamma[k]!;
        for (let i = 0; i < K * K; i++) trans[i]! += xi[i]!;
        gammas.push(gamma);
      }
      if (this.params.includes('s')) normalizeRows(this.startprob_, start, 1, K);
      if (this.params.includes('t')) normalizeRows(this.transmat_, trans, K, K);
      this.emissionStep(seqs, gammas);
      const h = this.monitor_.history;
      h.push(total);
      this.monitor_.iter = iter;
      if (h.length >= 2 && h[h.length - 1]! - h[h.length - 2]! < this.tol) {
        this.monitor_.converged = true;
        break;
      }
    }
    return this;
  }

  /** Total forward log-likelihood of the sequences. */
  score(X: Observations, lengths?: number[]): number {
    this.check();
    const M = asMatrix(X);
    let total = 0;
    for (const s of this.sequences(M, lengths)) total += this.forward(this.frameLogProb(s), s.rows).logprob;
    return total;
  }

  /** Most likely state sequence (Viterbi) and its log probability, over all sequences. */
  decode(X: Observations, lengths?: number[]): DecodeResult {
    this.check();
    const M = asMatrix(X);
    const states = new Int32Array(M.rows);
    let logprob = 0;
    let at = 0;
    for (const s of this.sequences(M, lengths)) {
      const r = this.viterbi(this.frameLogProb(s), s.rows);
      states.set(r.states, at);
      at += s.rows;
      logprob += r.logprob;
    }
    return { logprob, states };
  }

  predict(X: Observations, lengths?: number[]): Int32Array {
    return this.decode(X, lengths).states;
  }

  /** State posteriors [T, K] (row-major). */
  predict_proba(X: Observations, lengths?: number[]): Float64Array {
    this.check();
    const M = asMatrix(X);
    const out = new Float64Array(M.rows * this.n_components);
    let at = 0;
    for (const s of this.sequences(M, lengths)) {
      out.set(this.posteriors(s).gamma, at);
      at += s.rows * this.n_components;
    }
    return out;
  }

  viterbi(logB: Float64Array, T: number): DecodeResult {
    const K = this.n_components;
    const { logPi, logA } = this.logParams();
    const delta = new Float64Array(T * K);
    const back = new Int32Array(T * K);
    for (let k = 0; k < K; k++) delta[k] = logPi[k]! + logB[k]!;
    for (let t = 1; t < T; t++) {
      for (let j = 0; j < K; j++) {
        let best = -Infinity;
        let arg = 0;
        for (let i = 0; i < K; i++) {
          const v = delta[(t - 1) * K + i]! + logA[i * K + j]!;
          if (v > best) {
            best = v;
            arg = i;
          }
        }
        delta[t * K + j] = best + logB[t * K + j]!;
        back[t * K + j] = arg;
      }
    }
    const states = new Int32Array(T);
    let last = 0;
    for (let k = 1; k < K; k++) if (delta[(T - 1) * K + k]! > delta[(T - 1) * K + last]!) last = k;
    const logprob = delta[(T - 1) * K + last]!;
    states[T - 1] = last;
    for (let t = T - 1; t > 0; t--) states[t - 1] = back[t * K + states[t]!]!;
    return { logprob, states };
  }

  /** Draw `n_samples` observations and their hidden states. */
  sample(n_samples: number, random_state = this.random_state): { X: Matrix; states: Int32Array } {
    this.check();
    const random = rng(random_state);
    const K = this.n_components;
    const d = this.n_features;
    const draw = (p: Float64Array, from: number): number => {
      let r = random();
      for (let k = 0; k < K; k++) {
        r -= p[from + k]!;
        if (r < 0) return k;
      }
      return K - 1;
    };
    const states = new Int32Array(n_samples);
    const data = new Float64Array(n_samples * d);
    let s = draw(this.startprob_, 0);
    for (let t = 0; t < n_samples; t++) {
      if (t > 0) s = draw(this.transmat_, s * K);
      states[t] = s;
      data.set(this.sampleEmission(s, random), t * d);
    }
    return { X: { rows: n_samples, cols: d, data }, states };
  }
}

/** Normalize each row of `counts` into `out`; a row with no counts keeps its old values. */
function normalizeRows(out: Float64Array, counts: Float64Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += counts[r * cols + c]!;
    if (s > 0) for (let c = 0; c < cols; c++) out[r * cols + c] = counts[r * cols + c]! / s;
  }
}

/** A standard normal draw (Box–Muller) from a uniform generator. */
export function gaussianDraw(random: () => number): number {
  const u = Math.max(random(), Number.MIN_VALUE);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}
