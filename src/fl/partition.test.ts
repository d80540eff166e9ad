import { describe, expect, it } from 'vitest';
import { classCounts, parsePartition, partitionIndices } from './partition.ts';

/** 10 classes × 100 samples, labels in blocks. */
const labels = Int32Array.from({ length: 1000 }, (_, i) => Math.floor(i / 100));

function checkDisjointCover(parts: Uint32Array[], n: number) {
  const seen = new Uint8Array(n);
  for (const p of parts) for (const i of p) seen[i]!++;
  expect([...seen].every((c) => c === 1)).toBe(true);
}

describe('partitioners', () => {
  it('iid: even, disjoint, covering, seeded', () => {
    const parts = partitionIndices(labels, 4, parsePartition('iid'), 1);
    expect(parts.map((p) => p.length)).toEqual([250, 250, 250, 250]);
    checkDisjointCover(parts, 1000);
    expect(partitionIndices(labels, 4, parsePartition('iid'), 1)).toEqual(parts);
    expect(partitionIndices(labels, 4, parsePartition('iid'), 2)).not.toEqual(parts);
    // each client sees every class
    for (const p of parts) expect(classCounts(labels, p, 10).every((c) => c > 0)).toBe(true);
  });

  it('shards:2: every client holds at most two classes (shards never straddle here)', () => {
    const parts = partitionIndices(labels, 10, parsePartition('shards:2'), 3);
    checkDisjointCover(parts, 1000);
    for (const p of parts) {
      expect(p.length).toBe(100);
      expect(classCounts(labels, p, 10).filter((c) => c > 0).length).toBeLessThanOrEqual(2);
    }
  });

  it('dirichlet: small α is skewed, large α near uniform; every client gets a minimum', () => {
    const skew = (alpha: number) => {
      const parts = partitionIndices(labels, 5, { kind: 'dirichlet', alpha }, 4);
      checkDisjointCover(parts, 1000);
      for (const p of parts) expect(p.length).toBeGreaterThanOrEqual(10);
      // mean share of a client's largest class
      return parts.reduce((a, p) => a + Math.max(...classCounts(labels, p, 10)) / p.length, 0) / parts.length;
    };
    expect(skew(0.1)).toBeGreaterThan(0.4);
    expect(skew(1000)).toBeLessThan(0.2);
  });

  it('rejects bad specs with a clear message', () => {
    expect(() => parsePartition('dirichlet')).toThrow(/A must be a positive number/);
    expect(() => parsePartition('shards:1.5')).toThrow(/whole N/);
    expect(() => parsePartition('random')).toThrow(/iid, shards:N or dirichlet:A/);
    expect(() => partitionIndices(labels, 600, parsePartition('shards:2'))).toThrow(/needs 1200 samples/);
  });
});
