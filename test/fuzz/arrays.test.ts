/**
 * Fuzzing the .npy and .npz readers (src/data/npy.ts, src/data/npz.ts) behind the npy-folder and
 * npz data sources, with edits of numpy-written arrays (test/fixtures/models/*.npy) and archives
 * of them: an array or E_DATA_INVALID / E_UNSUPPORTED, in bounded time, never more data than the
 * file holds (npz: than deflate could expand it to).
 */
import fc from 'fast-check';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { parseNpy, type NdArray } from '../../src/data/npy.ts';
import { encodeNpz, parseNpz } from '../../src/data/npz.ts';
import { decodesOrRefuses, fuzzParams, mutate, mutations } from './fuzz.ts';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'models');
const npys = readdirSync(DIR)
  .filter((f) => f.endsWith('.npy'))
  .map((name) => ({ name, bytes: readFileSync(join(DIR, name)) }));
const CODES = ['E_DATA_INVALID', 'E_UNSUPPORTED'] as const;
const arrays = Object.fromEntries(npys.slice(0, 3).map((f, i) => [`a${i}`, parseNpy(f.bytes, f.name)]));
const npzs = [
  { name: 'stored.npz', bytes: encodeNpz(arrays) },
  { name: 'deflated.npz', bytes: encodeNpz(arrays, true) },
];

const dataBytes = (a: NdArray): number => (a.data as ArrayBufferView).byteLength;

describe('fuzz: .npy reader', () => {
  it('edited numpy arrays: an array no larger than the file, or a clear error', () => {
    expect(npys.length).toBeGreaterThanOrEqual(4);
    fc.assert(
      fc.property(fc.constantFrom(...npys), mutations(), (f, edits) => {
        // the header is the first 64-128 bytes: edit there half of the time
        const bytes = mutate(f.bytes, edits, 128);
        const a = decodesOrRefuses(() => parseNpy(bytes, f.name), CODES);
        if (a) {
          expect(dataBytes(a)).toBeLessThanOrEqual(bytes.length);
          expect(a.data.length).toBe(a.shape.reduce((x, y) => x * y, 1));
        }
      }),
      fuzzParams(500),
    );
  });

  it('arbitrary header text behind the magic', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 64 }), (header, data) => {
        const h = new TextEncoder().encode(header);
        const bytes = new Uint8Array(10 + h.length + data.length);
        bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]);
        bytes.set(h, 10);
        bytes.set(data, 10 + h.length);
        const a = decodesOrRefuses(() => parseNpy(bytes), CODES);
        if (a) expect(dataBytes(a)).toBeLessThanOrEqual(data.length);
      }),
      fuzzParams(500),
    );
  });

  it('found by the fuzzer: a header with a line break gives a one-line error', () => {
    // a header edit put '\n' into the text the error quoted: the CLI's one line became two
    const f = npys.find((n) => n.name === 'gru_classifier.input.npy')!;
    const bytes = Uint8Array.from(f.bytes);
    bytes.set(new TextEncoder().encode("{'descr\n\x1b[2J"), 10);
    expect(() => parseNpy(bytes, f.name)).toThrow(
      /^gru_classifier.input.npy: malformed .npy header: "\{'descr\\n\\u001b\[2J/,
    );
  });
});

describe('fuzz: .npz reader', () => {
  it('edited archives (stored and deflated): arrays or a clear error', () => {
    fc.assert(
      fc.property(fc.constantFrom(...npzs), mutations(), (f, edits) => {
        const bytes = mutate(f.bytes, edits);
        const out = decodesOrRefuses(() => parseNpz(bytes, f.name), CODES);
        if (out) for (const a of Object.values(out)) expect(dataBytes(a)).toBeLessThanOrEqual(1032 * bytes.length);
      }),
      fuzzParams(400),
    );
  });

  it('found by the fuzzer: a 221-byte archive declaring a 4 GB member is refused before allocating', () => {
    // one deflated member; the central directory's uncompressed size rewritten to 2^32 - 1. fflate
    // allocated the declared 4 GB output up front (process arrayBuffers grew by 4,294 MB).
    const zip = zipSync({ 'x.npy': [new Uint8Array(100_000), { level: 6 }] });
    const view = new DataView(zip.buffer);
    for (let i = 0; i + 4 <= zip.length; i++)
      if (view.getUint32(i, true) === 0x02014b50) view.setUint32(i + 24, 0xffffffff, true);
    const before = process.memoryUsage().arrayBuffers;
    expect(() => parseNpz(zip, 'bomb.npz')).toThrow(/x\.npy declares 4,294,967,295 bytes from \d+ compressed/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(2 ** 30);
  });

  it('an honest deflate bomb inflates only as far as deflate can expand (≤ 1032:1)', () => {
    const data = deflateSync(new Uint8Array(4 << 20), { level: 9 });
    expect(4 << 20).toBeLessThanOrEqual(1032 * data.length);
    const zip = zipSync({ 'x.npy': [new Uint8Array(4 << 20), { level: 9 }] });
    // a valid zip of a non-.npy member: the archive opens, the member is refused as .npy
    expect(() => parseNpz(zip, 'zeros.npz')).toThrow(/not a \.npy file/);
  });
});
