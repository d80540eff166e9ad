/**
 * Every registered strategy against a case computed by hand (the arithmetic is in the comments),
 * and the coverage check: a strategy added to the registry without a case here fails.
 */
import { describe, expect, it } from 'vitest';
import { VergeError } from '../../errors.ts';
import { createStrategy, STRATEGIES } from './index.ts';
import { STRATEGY_NAMES } from './names.ts';
import type { FitResult, Strategy } from './strategy.ts';

const f32 = (...v: number[]) => Float32Array.from(v);
const fit = (client: string, update: number[], examples = 1): FitResult => ({
  client,
  update: f32(...update),
  examples,
  metrics: { accuracy: examples / 10 },
});
const near = (a: Float32Array, b: number[], tol = 1e-6) => {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, -Math.log10(tol)));
};
const agg = (s: Strategy, global: number[], results: FitResult[], round = 1) =>
  s.aggregateFit(round, f32(...global), results, []).weights;

/** Two clients: Δ₁ = [1, 0] with 1 example, Δ₂ = [0, 2] with 3; global [1, 2]. */
const TWO = [fit('a', [1, 0], 1), fit('b', [0, 2], 3)];
/** Example-weighted mean: [(1·1 + 0·3)/4, (0·1 + 2·3)/4] = [0.25, 1.5]. */
const MEAN = [0.25, 1.5];

/**
 * FedOpt cases start from m = 0 and v = [1, 1e-4], η = 0.1, β₁ = 0.9, β₂ = 0.99, with τ given in the
 * spec (`name:η:τ`): 1e-3 and 0.5 (where τ dominates the denominator of coordinate 1).
 */
function fedOptCase(name: string, v: (v0: number, d2: number) => number): void {
  for (const tau of [1e-3, 0.5]) {
    const s = createStrategy(`${name}:0.1:${tau}`);
    s.setState({ m: f32(0, 0), v: f32(1, 1e-4) });
    const w = agg(s, [1, 2], TWO);
    const expected = MEAN.map((d, i) => {
      const m = 0.1 * d; // (1 − β₁)·Δ
      const vi = v([1, 1e-4][i]!, d * d);
      return [1, 2][i]! + (0.1 * m) / (Math.sqrt(vi) + tau);
    });
    near(w, expected, 1e-5);
  }
}

/** Five 2-D updates, one outlier per coordinate: [1, 2, 100, 3, 4] and [−50, 0, 1, 2, 3]. */
const OUTLIERS = [
  [1, -50],
  [2, 0],
  [100, 1],
  [3, 2],
  [4, 3],
].map((u, i) => fit(`c${i}`, u, 10));

const CASES: Record<string, () => void> = {
  fedavg: () => {
    near(agg(createStrategy('fedavg'), [1, 2], TWO), [1.25, 3.5]); // global + [0.25, 1.5]
  },
  fedavgm: () => {
    // β = 0.5, η = 1. Round 1: v = Δ̄ = [0.25, 1.5] → w = [1.25, 3.5].
    // Round 2, same updates: v = 0.5·[0.25, 1.5] + [0.25, 1.5] = [0.375, 2.25] → w = [1.625, 5.75].
    const s = createStrategy('fedavgm:0.5');
    const w1 = agg(s, [1, 2], TWO);
    near(w1, [1.25, 3.5]);
    near(agg(s, [...w1], TWO, 2), [1.625, 5.75]);
    expect([...s.getState().velocity!]).toEqual([0.375, 2.25]);
  },
  fedprox: () => {
    const s = createStrategy('fedprox:0.1');
    near(agg(s, [1, 2], TWO), [1.25, 3.5]); // FedAvg's aggregation
    const ins = s.configureFit(1, f32(1, 2), [{ id: 'a' }, { id: 'b' }]);
    expect(ins.map((i) => i.config.proximal_mu)).toEqual([0.1, 0.1]); // μ travels to every client
  },
  // Adam: v = 0.99·v₀ + 0.01·Δ²
  fedadam: () => fedOptCase('fedadam', (v0, d2) => 0.99 * v0 + 0.01 * d2),
  // Yogi: v = v₀ − 0.01·Δ²·sign(v₀ − Δ²): coordinate 0 has v₀ = 1 > 0.0625 (shrinks), 1 has 1e-4 < 2.25 (grows)
  fedyogi: () => fedOptCase('fedyogi', (v0, d2) => v0 - 0.01 * d2 * Math.sign(v0 - d2)),
  // Adagrad: v = v₀ + Δ²
  fedadagrad: () => fedOptCase('fedadagrad', (v0, d2) => v0 + d2),
  median: () => {
    // updates [1, 0], [0, 2], [5, −1]: medians [1, 0] (examples ignored) → [1, 2] + [1, 0]
    const r = [fit('a', [1, 0], 100), fit('b', [0, 2], 1), fit('c', [5, -1], 1)];
    near(agg(createStrategy('median'), [1, 2], r), [2, 2]);
    // even count: mean of the two middle values; [1, 2, 3, 4] → 2.5
    near(
      agg(
        createStrategy('median'),
        [0],
        [1, 2, 3, 4].map((v, i) => fit(`c${i}`, [v])),
      ),
      [2.5],
    );
  },
  'trimmed-mean': () => {
    // β = 0.2 of 5 → drop one each end: [1, 2, 3, 4, 100] → mean(2, 3, 4) = 3; [−50, 0, 1, 2, 3] → 1
    const r = OUTLIERS;
    near(agg(createStrategy('trimmed-mean:0.2'), [0, 0], r), [3, 1]);
  },
  meamed: () => {
    // f = 1 of 5: median of [1, 2, 3, 4, 100] is 3, the farthest value (100) goes → mean(1, 2, 3, 4) = 2.5
    // (trimmed mean would also drop the honest 1); [−50, 0, 1, 2, 3]: median 1, −50 goes → mean 1.5
    const r = OUTLIERS;
    near(agg(createStrategy('meamed:1'), [0, 0], r), [2.5, 1.5]);
    // f = 2 (default): median 3 → keep the 3 closest [2, 3, 4] → 3; [0, 1, 2] → 1
    near(agg(createStrategy('meamed'), [0, 0], r), [3, 1]);
    // even n = 4, f = 1: [0, 1, 2, 10] median 1.5 → drop 10 → mean(0, 1, 2) = 1; tie |0−1.5| = |3−1.5| drops the upper end
    near(
      agg(
        createStrategy('meamed:1'),
        [0],
        [0, 1, 2, 10].map((v, i) => fit(`c${i}`, [v])),
      ),
      [1],
    );
    near(
      agg(
        createStrategy('meamed:1'),
        [0],
        [0, 1, 2, 3].map((v, i) => fit(`c${i}`, [v])),
      ),
      [1],
    );
    expect(() =>
      agg(createStrategy('meamed:2'), [0], [fit('a', [0]), fit('b', [1]), fit('c', [2]), fit('d', [3])]),
    ).toThrow(/needs more than 2f = 4 updates, got 4/);
  },
  krum: () => {
    // 1-D updates 0, 1, 2, 10, 11 with f = 1 → n − f − 2 = 2 nearest. Squared distances to the two
    // nearest: 0 → 1 + 4 = 5; 1 → 1 + 1 = 2; 2 → 1 + 4 = 5; 10 → 1 + 64 = 65; 11 → 1 + 81 = 82.
    // Krum picks 1.
    const r = [0, 1, 2, 10, 11].map((v, i) => fit(`c${i}`, [v]));
    near(agg(createStrategy('krum:1'), [0], r), [1]);
  },
  'multi-krum': () => {
    // same scores: the two best are 1 (2) and 0 (5, ties broken by order) → mean 0.5;
    // default m = n − f = 4: 1, 0, 2, 10 → mean 3.25
    const r = [0, 1, 2, 10, 11].map((v, i) => fit(`c${i}`, [v]));
    near(agg(createStrategy('multi-krum:1:2'), [0], r), [0.5]);
    near(agg(createStrategy('multi-krum:1'), [0], r), [3.25]);
  },
};

describe('FL strategies', () => {
  for (const name of STRATEGIES.keys())
    it(`${name}: aggregation matches the hand-computed case`, () => CASES[name]?.());

  it('the data-only name list (CLI help) equals the registry', () => {
    expect([...STRATEGY_NAMES]).toEqual([...STRATEGIES.keys()]);
  });

  it('every registered strategy has a hand-computed case', () => {
    expect([...STRATEGIES.keys()].filter((n) => !(n in CASES))).toEqual([]);
  });

  it('aggregated metrics are example-weighted means', () => {
    const r = createStrategy('fedavg').aggregateFit(1, f32(0, 0), TWO, []);
    expect(r.metrics.accuracy).toBeCloseTo((0.1 * 1 + 0.3 * 3) / 4, 9);
  });

  it('samples a seeded fraction of clients, never fewer than min_fit_clients', () => {
    const clients = Array.from({ length: 10 }, (_, i) => ({ id: `c${i}` }));
    const s = createStrategy('fedavg', { fractionFit: 0.3, minFitClients: 4, seed: 7 });
    const r1 = s.configureFit(1, f32(0), clients).map((i) => i.client);
    expect(r1).toHaveLength(4);
    expect(new Set(r1).size).toBe(4);
    expect(s.configureFit(1, f32(0), clients).map((i) => i.client)).toEqual(r1); // deterministic
    const r2 = s.configureFit(2, f32(0), clients).map((i) => i.client);
    expect(r2).not.toEqual(r1); // another round, another sample
    expect(createStrategy('fedavg', { fractionFit: 0.5 }).configureFit(1, f32(0), clients)).toHaveLength(5);
  });

  it('a round-indexed client lr: round r is sent lr · decay^(r − 1), through FedProx too', () => {
    const lrOf = (s: ReturnType<typeof createStrategy>, round: number) =>
      s.configureFit(round, f32(0), [{ id: 'a' }, { id: 'b' }])[0]!.config.lr as number;
    const fitConfig = { lr: 0.08, local_steps: 50 };
    const s = createStrategy('fedavg', { fitConfig, clientLrDecay: 0.5 });
    expect([1, 2, 3, 4].map((r) => lrOf(s, r))).toEqual([0.08, 0.04, 0.02, 0.01]);
    expect(s.configureFit(3, f32(0), [{ id: 'a' }, { id: 'b' }])[0]!.config).toMatchObject({
      local_steps: 50,
      round: 3,
    });
    const prox = createStrategy('fedprox:0.1', { fitConfig, clientLrDecay: 0.5 });
    expect(prox.configureFit(2, f32(0), [{ id: 'a' }, { id: 'b' }])[0]!.config).toMatchObject({
      lr: 0.04,
      proximal_mu: 0.1,
    });
    expect(lrOf(createStrategy('fedavg', { fitConfig }), 30)).toBe(0.08); // no decay: constant
    expect(() => createStrategy('fedavg', { clientLrDecay: 0.9 })).toThrow(/needs the base client lr/);
    expect(() => createStrategy('fedavg', { fitConfig, clientLrDecay: 1.5 })).toThrow(/must be in \(0, 1\]/);
  });

  it('a floored client lr: round r is sent max(min, lr · decay^(r − 1)); a bad floor is refused', () => {
    const lrOf = (s: ReturnType<typeof createStrategy>, round: number) =>
      s.configureFit(round, f32(0), [{ id: 'a' }, { id: 'b' }])[0]!.config.lr as number;
    const fitConfig = { lr: 0.08, local_epochs: 2 };
    // 0.08, 0.04, 0.02, then 0.01 would be below the floor 0.015: held there for every later round
    const s = createStrategy('fedavg', { fitConfig, clientLrDecay: 0.5, clientLrMin: 0.015 });
    expect([1, 2, 3, 4, 5, 30].map((r) => lrOf(s, r))).toEqual([0.08, 0.04, 0.02, 0.015, 0.015, 0.015]);
    // 0.05 · 0.85^(r − 1) with a floor of 0.003 (the session-13 bench recipe): hand-computed rounds
    const b = createStrategy('fedprox:0.01', { fitConfig: { lr: 0.05 }, clientLrDecay: 0.85, clientLrMin: 0.003 });
    expect(lrOf(b, 1)).toBe(0.05);
    expect(lrOf(b, 11)).toBeCloseTo(0.0098437202, 9); // 0.85^10 = 0.1968744…
    expect(lrOf(b, 18)).toBeCloseTo(0.0031556712, 9); // 0.85^17 = 0.0631134…: above the floor
    expect(lrOf(b, 19)).toBe(0.003); // 0.05 · 0.85^18 = 0.0026823 < 0.003
    expect(lrOf(b, 30)).toBe(0.003);
    expect(() => createStrategy('fedavg', { fitConfig, clientLrMin: 0.01 })).toThrow(/needs a client lr decay below 1/);
    expect(() => createStrategy('fedavg', { fitConfig, clientLrDecay: 0.9, clientLrMin: 0.1 })).toThrow(
      /lr_min 0.1\) is above the base client lr 0.08/,
    );
    expect(() => createStrategy('fedavg', { fitConfig, clientLrDecay: 0.9, clientLrMin: 0 })).toThrow(/must be > 0/);
  });

  it("a cosine client lr over the job's R rounds: min + (lr − min)(1 + cos(π(r − 1)/R))/2; bad input refused", () => {
    const two = [{ id: 'a' }, { id: 'b' }];
    const lrOf = (s: ReturnType<typeof createStrategy>, round: number) =>
      s.configureFit(round, f32(0), two)[0]!.config.lr as number;
    const fitConfig = { lr: 0.05, local_epochs: 2 };
    const s = createStrategy('fedavg', { fitConfig, clientLrSchedule: 'cosine', clientLrRounds: 30 });
    expect(lrOf(s, 1)).toBe(0.05);
    expect(lrOf(s, 16)).toBeCloseTo(0.025, 12); // cos(π/2) = 0: half way
    expect(lrOf(s, 21)).toBeCloseTo(0.0125, 12); // cos(2π/3) = −1/2
    expect(lrOf(s, 30)).toBeCloseTo(0.000136953, 9); // 0.05 (1 − cos(π/30)) / 2: the last round still trains
    expect(lrOf(s, 31)).toBe(lrOf(s, 30)); // past R: round R's rate
    // with a floor, over 3 rounds: cos 0, π/3, 2π/3 → 0.002 + 0.048 × (1, 3/4, 1/4)
    const m = createStrategy('fedprox:0.01', {
      fitConfig,
      clientLrSchedule: 'cosine',
      clientLrRounds: 3,
      clientLrMin: 0.002,
    });
    [0.05, 0.038, 0.014].forEach((lr, i) => expect(lrOf(m, i + 1)).toBeCloseTo(lr, 12));
    expect(m.fitConfig(2)).toEqual(m.configureFit(2, f32(0), two)[0]!.config); // the round's config, no sampling
    expect(m.fitConfig(2)).toMatchObject({ round: 2, proximal_mu: 0.01, local_epochs: 2 });
    const cosine = { fitConfig, clientLrSchedule: 'cosine' as const };
    expect(() => createStrategy('fedavg', cosine)).toThrow(/^a cosine client lr schedule needs the job's rounds/);
    expect(() => createStrategy('fedavg', { ...cosine, clientLrRounds: 2.5 })).toThrow(/whole number ≥ 1\), got 2.5$/);
    expect(() => createStrategy('fedavg', { ...cosine, clientLrRounds: 30, clientLrDecay: 0.9 })).toThrow(
      /takes no lr decay/,
    );
    expect(() => createStrategy('fedavg', { ...cosine, clientLrRounds: 30, clientLrMin: 0.06 })).toThrow(
      /lr_min 0.06\) is above the base client lr 0.05/,
    );
    expect(() => createStrategy('fedavg', { clientLrSchedule: 'cosine', clientLrRounds: 30 })).toThrow(
      /needs the base client lr/,
    );
    const linear = { fitConfig, clientLrSchedule: 'linear' as unknown as 'exp' };
    expect(() => createStrategy('fedavg', linear)).toThrow(
      /^unknown client lr schedule 'linear' \(expected exp or cosine\)$/,
    );
  });

  it('refuses a round with fewer clients than min_available_clients', () => {
    const s = createStrategy('fedavg', { minAvailableClients: 3 });
    expect(() => s.configureFit(1, f32(0), [{ id: 'a' }, { id: 'b' }])).toThrow(/at least 3/);
  });

  it('Krum refuses too few updates for its f', () => {
    expect(() => agg(createStrategy('krum:2'), [0], [fit('a', [1]), fit('b', [2]), fit('c', [3])])).toThrow(
      /more than f \+ 2/,
    );
  });

  it('server-optimizer state round-trips (a resumed job continues identically)', () => {
    const a = createStrategy('fedadam:0.1');
    agg(a, [1, 2], TWO);
    const b = createStrategy('fedadam:0.1');
    b.setState(a.getState());
    expect([...agg(b, [1, 2], TWO, 2)]).toEqual([...agg(a, [1, 2], TWO, 2)]);
  });

  it('+clip bounds every update to K × the median update norm before the inner strategy aggregates', () => {
    // norms 5, 1, 2 → median 2. K = 1: [3, 4] → [1.2, 1.6]; mean of [1.2, 1.6], [0, 1], [0, −2] = [0.4, 0.2]
    const r = [fit('a', [3, 4]), fit('b', [0, 1]), fit('c', [0, -2])];
    const s = createStrategy('fedavg+clip');
    expect(s.name).toBe('fedavg+clip');
    expect(s.linear).toBe(false); // needs individual updates: no secure aggregation, no DP
    const out = s.aggregateFit(1, f32(0, 0), r, []);
    near(out.weights, [0.4, 0.2]);
    expect(out.metrics.norm_bound).toBeCloseTo(2, 6);
    expect(out.metrics.norm_clipped).toBe(1);
    expect([...r[0]!.update]).toEqual([3, 4]); // the results themselves are not modified
    // K = 2: bound 4 → [2.4, 3.2]; mean [0.8, 2.2 / 3]
    near(agg(createStrategy('fedavg+clip:2'), [0, 0], r), [0.8, 2.2 / 3]);
    // wraps robust strategies too: median of the clipped [1.2, 0, 0] and [1.6, 1, −2] → [0, 1]
    near(agg(createStrategy('median+clip'), [1, 1], r), [1, 2]);
    expect(createStrategy('trimmed-mean:0.2+clip').name).toBe('trimmed-mean+clip');
    expect(() => createStrategy('fedavg+clip:0')).toThrow(/K .* must be a number > 0/);
    expect(() => createStrategy('fedavg+clip:x')).toThrow(/K must be a number, got 'x'/);
    expect(() => createStrategy('fedavg+boost')).toThrow(/unknown strategy modifier '\+boost'/);
  });

  it('+bucket averages random buckets of s updates, then the inner strategy aggregates the bucket means', () => {
    // 4 updates, s = 2 → 2 buckets of 2 whatever the shuffle: the median of 2 bucket means is their mean,
    // and every bucketing of 4 into 2 + 2 has the same mean of means when each bucket holds 2 examples
    const r = [fit('a', [1], 1), fit('b', [3], 1), fit('c', [5], 1), fit('d', [100], 1)];
    const s = createStrategy('median+bucket');
    expect(s.name).toBe('median+bucket');
    expect(s.linear).toBe(false);
    const out = s.aggregateFit(1, f32(0), r, []);
    near(out.weights, [(1 + 3 + 5 + 100) / 4], 1e-5);
    expect(out.metrics.buckets).toBe(2);
    expect(out.metrics.accuracy).toBeCloseTo(0.1, 9); // the clients' metrics, not the buckets'
    // s = 1: buckets of one → the plain median [3, 5] → 4
    near(agg(createStrategy('median+bucket:1'), [0], r), [4]);
    // buckets are example-weighted means: s = 4 → one bucket, (1·1 + 3·3) / 4 = 2.5
    near(agg(createStrategy('median+bucket:4'), [0], [fit('a', [1], 1), fit('b', [3], 3)]), [2.5]);
    // the shuffle depends on the round only: the same round gives the same result
    const five = [0, 1, 2, 10, 11].map((v, i) => fit(`c${i}`, [v]));
    expect([...agg(createStrategy('median+bucket'), [0], five, 3)]).toEqual([
      ...agg(createStrategy('median+bucket'), [0], five, 3),
    ]);
    // modifiers apply in the order written: clip, then bucket
    expect(createStrategy('median+clip+bucket').name).toBe('median+clip+bucket');
    // clip first: [100] is cut to the median norm 5 before bucketing → mean of 1, 3, 5, 5 = 3.5
    near(agg(createStrategy('median+clip+bucket'), [0], r), [3.5], 1e-5);
    // bucket first: two bucket means; the (upper) median of two norms is the larger, nothing is clipped
    near(agg(createStrategy('median+bucket+clip'), [0], r), [27.25], 1e-5);
    expect(() => createStrategy('median+bucket:0')).toThrow(/whole number ≥ 1/);
  });

  it('+nnm replaces each update by the mean of its n − f nearest, then the inner strategy aggregates', () => {
    // [0], [1], [2], [100], f = 1 → 3 nearest each: 0, 1 and 2 mix to 1; 100 mixes with 2 and 1 to 103 / 3
    const r = [fit('a', [0]), fit('b', [1]), fit('c', [2]), fit('d', [100])];
    const s = createStrategy('median+nnm:1');
    expect(s.name).toBe('median+nnm');
    expect(s.linear).toBe(false);
    near(agg(s, [0], r), [1]); // median of 1, 1, 1, 34.33 (the plain median is 1.5)
    near(agg(createStrategy('median'), [0], r), [1.5]);
    near(agg(createStrategy('fedavg+nnm:1'), [0], r), [(1 + 1 + 1 + 103 / 3) / 4], 1e-5);
    // f = 0: every update mixes with all → all equal the plain mean (unweighted)
    near(agg(createStrategy('median+nnm:0'), [0], r), [103 / 4], 1e-5);
    // 2-D: distances are L2 over the whole update, ties broken by order
    near(agg(createStrategy('median+nnm:1'), [0, 0], [fit('a', [0, 0]), fit('b', [0, 2]), fit('c', [9, 9])]), [0, 1]);
    expect([...r[3]!.update]).toEqual([100]); // the results themselves are not modified
    expect(() => agg(createStrategy('median+nnm:4'), [0], r)).toThrow(/needs more than 4 updates, got 4/);
    expect(() => createStrategy('median+nnm:1.5')).toThrow(/whole number ≥ 0/);
  });

  it('rejects unknown strategies and malformed parameters with a clear error', () => {
    expect(() => createStrategy('fedsgd')).toThrow(VergeError);
    expect(() => createStrategy('fedsgd')).toThrow(/unknown strategy 'fedsgd' \(known: fedavg/);
    expect(() => createStrategy('fedprox:abc')).toThrow(/mu must be a number/);
    expect(() => createStrategy('median:1')).toThrow(/takes no parameters/);
    expect(() => createStrategy('fedadam:0.1:0')).toThrow(/tau must be > 0/);
    expect(() => createStrategy('fedyogi:0.1:0.001:1')).toThrow(/takes server_lr, tau/);
    expect(() => createStrategy('trimmed-mean:0.6')).toThrow(/\[0, 0.5\)/);
  });
});
