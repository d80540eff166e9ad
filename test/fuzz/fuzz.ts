/**
 * Shared parts of the fuzz tests (fast-check): a fixed seed and run count per test, so CI runs the
 * same inputs every time; byte mutations of real files; and the property every decoder must hold:
 * it returns a value or throws a VergeError, within a time bound, never another exception.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { isVergeError, type ErrorCode } from '../../src/errors.ts';

/** One seed for the whole suite: a failure prints it with the shrunk counterexample to replay. */
export const FUZZ_SEED = 20261202;

/**
 * A decoder call that takes this long on a file of at most a few hundred KB is a hang, not load:
 * honest decodes of the fixtures take milliseconds. Generous on purpose (CI runs on 2 busy cores).
 */
export const HANG_MS = 10_000;

/** fast-check parameters of one property: fixed seed, fixed number of runs (a failure is shrunk to a small counterexample). */
export function fuzzParams(numRuns: number): fc.Parameters<unknown> {
  return { seed: FUZZ_SEED, numRuns };
}

/**
 * Call `decode`; it must return (the value is given back) or throw a VergeError whose code is one of
 * `codes` — anything else (TypeError, RangeError, a stack overflow, a raw library error) fails.
 */
export function decodesOrRefuses<T>(decode: () => T, codes: readonly ErrorCode[]): T | undefined {
  const t0 = performance.now();
  try {
    return decode();
  } catch (e) {
    if (!isVergeError(e)) throw new Error(`not a VergeError: ${(e as Error)?.stack ?? String(e)}`, { cause: e });
    expect(codes, e.toLine()).toContain(e.code);
    // the one line the CLI prints stays one line
    expect(e.message).not.toMatch(/\n/);
    return undefined;
  } finally {
    expect(performance.now() - t0).toBeLessThan(HANG_MS);
  }
}

export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'u32'; at: number; value: number }
  | { kind: 'varint'; at: number; value: bigint }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number };

/** Length-like values an attacker writes into a size field: just past the end, 2 GB, 4 GB, 2^64-1. */
const HOSTILE_U32 = [0xffffffff, 0x7fffffff, 0x80000000, 0x10000000, 0xffff, 0x10000];
const HOSTILE_VARINT = [0xffffffffn, 0x100000000n, 0x7fffffffn, 2n ** 63n - 1n, 2n ** 64n - 1n, 1_000_000n];

const position = fc.nat({ max: 0x7fffffff });
/** One edit of a file; positions are taken modulo the file's length when applied. */
export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('byte' as const), at: position, value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant('u32' as const),
    at: position,
    value: fc.oneof(fc.constantFrom(...HOSTILE_U32), fc.nat({ max: 0xffffffff })),
  }),
  fc.record({
    kind: fc.constant('varint' as const),
    at: position,
    value: fc.oneof(fc.constantFrom(...HOSTILE_VARINT), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: position,
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: position, length: fc.integer({ min: 1, max: 64 }) }),
);

function varintBytes(v: bigint): number[] {
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Apply edits to a copy of `bytes`. `hot` (optional) is the length of the file's structural head:
 * positions fall in it half of the time, so a 480 KB model is not edited only inside its weights.
 */
export function mutate(bytes: Uint8Array, edits: readonly Mutation[], hot = bytes.length): Uint8Array {
  let b: Uint8Array<ArrayBuffer> = Uint8Array.from(bytes);
  for (const m of edits) {
    const span = m.at % 2 === 0 ? Math.max(1, Math.min(hot, b.length)) : Math.max(1, b.length);
    const at = (m.at >>> 1) % span;
    switch (m.kind) {
      case 'flip':
        if (at < b.length) b[at]! ^= 1 << m.bit;
        break;
      case 'byte':
        if (at < b.length) b[at] = m.value;
        break;
      case 'u32':
        for (let i = 0; i < 4 && at + i < b.length; i++) b[at + i] = (m.value >>> (8 * i)) & 0xff;
        break;
      case 'varint': {
        const v = varintBytes(m.value);
        for (let i = 0; i < v.length && at + i < b.length; i++) b[at + i] = v[i]!;
        break;
      }
      case 'truncate':
        b = b.slice(0, at);
        break;
      case 'insert':
        b = concat(b.subarray(0, at), m.bytes, b.subarray(at));
        break;
      case 'delete':
        b = concat(b.subarray(0, at), b.subarray(at + m.length));
        break;
    }
  }
  return b;
}

/** 1 to `max` edits. */
export const mutations = (max = 4): fc.Arbitrary<Mutation[]> => fc.array(mutation, { minLength: 1, maxLength: max });
