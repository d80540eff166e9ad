import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GaussianHMM } from './gaussian-hmm.ts';
import { GMMHMM } from './gmm-hmm.ts';
import type { BaseHMM } from './base.ts';

const here = dirname(fileURLToPath(import.meta.url));
interface Params {
  type: 'diag' | 'full';
  startprob: number[];
  transmat: number[][];
  means: number[][][];
  covars: unknown[];
  weights: number[][];
}
interface Case {
  name: string;
  type: 'diag' | 'full';
  n_mix: number;
  X: number[][];
  lengths: number[];
  init: Params;
  history: number[];
  final: Params;
  test: number[][];
  viterbi: { logprob: number; states: number[] };
  score_final: number;
}
const ref = JSON.parse(readFileSync(join(here, '../../test/fixtures/hmm/hmm_reference.json'), 'utf8')) as {
  n_iter: number;
  covars_prior: number;
  cases: Case[];
};

/** The parity bar against the independent NumPy implementation. */
const RTOL = 1e-4;
const flat = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x as number]);

function expectClose(got: ArrayLike<number>, want: number[], what: string, atol = 0): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    if (err > RTOL * Math.abs(want[i]!) + atol) expect.fail(`${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

function modelFor(c: Case): GaussianHMM | GMMHMM {
  const common = {
    n_components: c.init.startprob.length,
    covariance_type: c.type,
    n_iter: ref.n_iter,
    tol: -Infinity,
    init_params: '',
    covars_prior: ref.covars_prior,
  };
  const m = c.n_mix === 1 ? new GaussianHMM(common) : new GMMHMM({ ...common, n_mix: c.n_mix });
  m.startprob_ = Float64Array.from(c.init.startprob);
  m.transmat_ = Float64Array.from(flat(c.init.transmat));
  m.means_ = Float64Array.from(flat(c.init.means));
  m.covars_ = Float64Array.from(flat(c.init.covars));
  if (m instanceof GMMHMM) m.weights_ = Float64Array.from(flat(c.init.weights));
  return m;
}

describe('Baum–Welch parity with a NumPy reference', () => {
  for (const c of ref.cases) {
    it(`${c.name}: log-likelihood per EM iteration, final parameters and Viterbi path`, () => {
      const m = modelFor(c);
      m.fit(c.X, c.lengths);
      expectClose(m.monitor_.history, c.history, 'history');
      expectClose(m.startprob_, c.final.startprob, 'startprob_', 1e-9);
      expectClose(m.transmat_, flat(c.final.transmat), 'transmat_', 1e-9);
      expectClose(m.means_, flat(c.final.means), 'means_', 1e-9);
      expectClose(m.covars_, flat(c.final.covars), 'covars_', 1e-9);
      if (m instanceof GMMHMM) expectClose(m.weights_, flat(c.final.weights), 'weights_', 1e-9);
      expectClose([m.score(c.X, c.lengths)], [c.score_final], 'score');
      const v = m.decode(c.test);
      expect(Array.from(v.states)).toEqual(c.viterbi.states);
      expectClose([v.logprob], [c.viterbi.logprob], 'viterbi logprob');
    });
  }
});

describe('hidden Markov models', () => {
  const truth = (): GaussianHMM => {
    const m = new GaussianHMM({ n_components: 3, init_params: '' });
    m.startprob_ = Float64Array.from([0.5, 0.3, 0.2]);
    m.transmat_ = Float64Array.from([0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.1, 0.2, 0.7]);
    m.means_ = Float64Array.from([0, 0, 4, 4, -4, 4]);
    m.covars_ = Float64Array.from([1, 1, 1, 0.5, 0.5, 1]);
    return m;
  };

  for (const [name, make] of [
    ['GaussianHMM diag', () => new GaussianHMM({ n_components: 3, n_iter: 30, tol: 0, random_state: 1 })],
    ['GaussianHMM full', () => new GaussianHMM({ n_components: 3, covariance_type: 'full', n_iter: 30, tol: 0 })],
    ['GMMHMM', () => new GMMHMM({ n_components: 3, n_mix: 2, n_iter: 30, tol: 0, random_state: 2 })],
    [
      'left-to-right',
      () =>
        new GaussianHMM({ n_components: 3, topology: 'left-to-right', init_method: 'segments', n_iter: 30, tol: 0 }),
    ],
  ] as [string, () => BaseHMM][]) {
    it(`${name}: EM from k-means never lowers the log-likelihood`, () => {
      const { X } = truth().sample(600, 7);
      const m = make().fit(X, [200, 250, 150]);
      const h = m.monitor_.history;
      expect(h.length).toBeGreaterThan(3);
      for (let i = 1; i < h.length; i++) expect(h[i]!).toBeGreaterThanOrEqual(h[i - 1]! - 1e-8 * Math.abs(h[i - 1]!));
    });
  }

  it('recovers the generating parameters and keeps left-to-right zeros at zero', () => {
    const { X, states } = truth().sample(3000, 11);
    const m = new GaussianHMM({ n_components: 3, n_iter: 50, random_state: 3 }).fit(X);
    const acc = m.predict(X).reduce((a, s, i) => a + (s === states[i] ? 1 : 0), 0) / 3000;
    // states are found up to a permutation: match each learned mean to the nearest true one
    const truthMeans = [
      [0, 0],
      [4, 4],
      [-4, 4],
    ];
    const perm = [0, 1, 2].map((k) => {
      const mu = [m.means_[2 * k]!, m.means_[2 * k + 1]!];
      return truthMeans.findIndex((t) => Math.hypot(t[0]! - mu[0]!, t[1]! - mu[1]!) < 0.3);
    });
    expect(new Set(perm)).toEqual(new Set([0, 1, 2]));
    const hits = m.predict(X).reduce((a, s, i) => a + (perm[s] === states[i] ? 1 : 0), 0) / 3000;
    expect(Math.max(acc, hits)).toBeGreaterThan(0.95);

    const lr = new GaussianHMM({ n_components: 3, topology: 'left-to-right', init_method: 'segments', n_iter: 10 });
    lr.fit({ rows: 300, cols: 2, data: X.data.subarray(0, 600) });
    expect(lr.startprob_[1]).toBe(0);
    expect(lr.transmat_[2]).toBe(0); // 0 -> 2
    expect(lr.transmat_[3]).toBe(0); // 1 -> 0
  });

  it('Viterbi picks the best path of a hand-made case', () => {
    // Two states with fixed emissions; the observation 5 is far likelier under state 1, but
    // leaving state 0 costs log 0.01 and staying in 1 is cheap.
    const m = new GaussianHMM({ n_components: 2, init_params: '' });
    m.startprob_ = Float64Array.from([1, 0]);
    m.transmat_ = Float64Array.from([0.99, 0.01, 0, 1]);
    m.means_ = Float64Array.from([0, 5]);
    m.covars_ = Float64Array.from([1, 1]);
    const X = [[0], [0.2], [5], [0.1], [4.8], [5.1]];
    const { states, logprob } = m.decode(X);
    // brute force over all 2^6 paths
    let best = -Infinity;
    let bestPath: number[] = [];
    const lp = (x: number, k: number): number => -0.5 * Math.log(2 * Math.PI) - 0.5 * (x - (k ? 5 : 0)) ** 2;
    for (let code = 0; code < 64; code++) {
      const path = [0, 1, 2, 3, 4, 5].map((i) => (code >> i) & 1);
      let s = Math.log(m.startprob_[path[0]!]!) + lp(X[0]![0]!, path[0]!);
      for (let t = 1; t < 6; t++) s += Math.log(m.transmat_[path[t - 1]! * 2 + path[t]!]!) + lp(X[t]![0]!, path[t]!);
      if (s > best) [best, bestPath] = [s, path];
    }
    expect(Array.from(states)).toEqual(bestPath);
    expect(Array.from(states)).toEqual([0, 0, 1, 1, 1, 1]);
    expect(logprob).toBeCloseTo(best, 10);
  });

  it('refuses bad parameters and data with clear errors', () => {
    const m = truth();
    m.transmat_ = Float64Array.from([0.5, 0.5, 0.5, 0.2, 0.7, 0.1, 0.1, 0.2, 0.7]);
    expect(() => m.score([[0, 0]])).toThrow(/row 0 of transmat_/);
    expect(() => truth().score([[0, 0, 0]])).toThrow(/3 features, the model 2/);
    expect(() =>
      truth().fit(
        [
          [0, 0],
          [1, 1],
        ],
        [1, 2],
      ),
    ).toThrow(/lengths must be positive and add up to 2/);
    expect(() => new GaussianHMM({ covariance_type: 'tied' as 'diag' })).toThrow(/covariance_type/);
    const full = new GaussianHMM({ n_components: 1, covariance_type: 'full', init_params: '' });
    full.startprob_ = Float64Array.from([1]);
    full.transmat_ = Float64Array.from([1]);
    full.means_ = Float64Array.from([0, 0]);
    full.covars_ = Float64Array.from([1, 2, 2, 1]);
    expect(() => full.score([[0, 0]])).toThrow(/not positive definite/);
  });
});
