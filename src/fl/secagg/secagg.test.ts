import { describe, expect, it } from 'vitest';
import { seededRandom } from '../random.ts';
import { weightedMean } from '../weights.ts';
import { SecAggClient } from './client.ts';
import { decodeFixed, encodeFixed, fractionBits } from './fixed-point.ts';
import { secureAggregate, SECAGG_WEIGHT_CAP } from './round.ts';
import { SecAggServer } from './server.ts';

function inputs(n: number, size: number) {
  const r = seededRandom(11);
  return Array.from({ length: n }, (_, k) => ({
    client: `c${k}`,
    update: Float32Array.from({ length: size }, () => r.normal() * 0.05),
    examples: 100 * (k + 1),
  }));
}

describe('secure aggregation', () => {
  it('recovers the weighted mean of all clients within 1e-5', async () => {
    const xs = inputs(5, 300);
    const r = await secureAggregate(xs, { context: 'test/1' });
    const plain = weightedMean(
      xs.map((x) => x.update),
      xs.map((x) => x.examples / SECAGG_WEIGHT_CAP),
    );
    r.mean.forEach((v, i) => expect(Math.abs(v - plain[i]!)).toBeLessThan(1e-5));
    expect(r.dropped).toEqual([]);
  });

  it('recovers the survivors’ mean when two of ten drop after sharing keys', async () => {
    const xs = inputs(10, 200);
    const drop = new Set(['c3', 'c7']);
    const r = await secureAggregate(xs, { context: 'test/2', dropAfterSharing: drop });
    const alive = xs.filter((x) => !drop.has(x.client));
    const plain = weightedMean(
      alive.map((x) => x.update),
      alive.map((x) => x.examples),
    );
    r.mean.forEach((v, i) => expect(Math.abs(v - plain[i]!)).toBeLessThan(1e-5));
    expect(r.dropped.sort()).toEqual(['c3', 'c7']);
    expect(r.survivors).toHaveLength(8);
  });

  it('the server store never holds an unmasked individual input', async () => {
    const xs = inputs(4, 500);
    const r = await secureAggregate(xs, { context: 'test/3', dropAfterSharing: new Set(['c1']) });
    const bits = fractionBits(4, 8);
    for (const [id, stored] of r.server.storedInputs()) {
      const x = xs[id - 1]!;
      const w = x.examples / SECAGG_WEIGHT_CAP;
      const decoded = decodeFixed(stored, bits);
      // a masked value is uniform over the ring: its decoded values are nowhere near the input
      let close = 0;
      decoded.forEach((v, i) => {
        if (i < x.update.length && Math.abs(v - w * x.update[i]!) < 0.01) close++;
      });
      expect(close).toBeLessThan(5); // chance alone: ~500 · 0.02/2⁽³²⁻ᵇⁱᵗˢ⁾ ≈ 0
      const plain = encodeFixed(Float32Array.from([...x.update].map((u) => u * w)), bits, 8).ring;
      expect(stored.subarray(0, plain.length)).not.toEqual(plain);
    }
  });

  it('fails cleanly when too few survivors remain', async () => {
    const xs = inputs(5, 10);
    await expect(
      secureAggregate(xs, { context: 'test/4', dropAfterSharing: new Set(['c0', 'c1', 'c2']) }),
    ).rejects.toThrow(/2 inputs arrived, fewer than the threshold 3/);
  });

  it('a client refuses to unmask twice or for a survivor set below the threshold (no double reveal)', async () => {
    const params = { context: 'test/5', threshold: 2, bits: 20, bound: 8, length: 3 };
    const [a, b, c] = [1, 2, 3].map((id) => new SecAggClient(id, params));
    const server = new SecAggServer(params);
    const roster = server.collectKeys([a!, b!, c!].map((x) => x.advertise()));
    const inbox = server.routeShares(await Promise.all([a!, b!, c!].map((x) => x.shareKeys(roster))));
    a!.maskInput(new Float32Array(3), inbox.get(1)!);
    expect(() => a!.unmask([1])).toThrow(/fewer than the threshold/);
    a!.unmask([1, 2]);
    expect(() => a!.unmask([1, 3])).toThrow(/already answered/); // would reveal both secrets of client 2 or 3
  });

  it('rejects duplicate inputs and inputs from clients that did not share keys', async () => {
    const params = { context: 'test/6', threshold: 2, bits: 20, bound: 8, length: 2 };
    const [a, b] = [1, 2].map((id) => new SecAggClient(id, params));
    const server = new SecAggServer(params);
    const roster = server.collectKeys([a!, b!].map((x) => x.advertise()));
    const inbox = server.routeShares(await Promise.all([a!, b!].map((x) => x.shareKeys(roster))));
    const m = a!.maskInput(new Float32Array(2), inbox.get(1)!);
    server.collectMasked(m);
    expect(() => server.collectMasked(m)).toThrow(/already sent/);
    expect(() => server.collectMasked({ client: 9, masked: new Uint32Array(2) })).toThrow(/did not share keys/);
  });
});
