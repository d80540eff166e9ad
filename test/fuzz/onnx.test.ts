/**
 * Fuzzing the ONNX decoder (src/onnx/codec.ts) with edits of the real models in
 * test/fixtures/models: truncations, bit flips, inserted bytes and length prefixes rewritten to
 * hostile values (4 GB, 2^64-1). It returns a model or throws E_NOT_ONNX / E_MODEL_TRUNCATED in
 * bounded time, and the tensors it returns never hold more than the file could encode.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '../../src/onnx/codec.ts';
import type { Graph, Model } from '../../src/onnx/ir.ts';
import { decodesOrRefuses, fuzzParams, mutate, mutations } from './fuzz.ts';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'models');
const small = ['gru_classifier', 'residual_block'].map((n) => ({
  name: n,
  bytes: readFileSync(join(DIR, `${n}.onnx`)),
}));
const large = { name: 'seed_cnn', bytes: readFileSync(join(DIR, 'seed_cnn.onnx')) };
const CODES = ['E_NOT_ONNX', 'E_MODEL_TRUNCATED'] as const;

/** Bytes of tensor data the decoded model holds (a varint of 1 byte may become an 8-byte int64). */
function tensorBytes(g: Graph): number {
  let n = 0;
  for (const t of g.initializers) n += ArrayBuffer.isView(t.data) ? t.data.byteLength : t.data.length;
  for (const node of g.nodes)
    for (const a of Object.values(node.attributes)) {
      if (a.type === 'graph') n += tensorBytes(a.value);
      if (a.type === 'tensor' && ArrayBuffer.isView(a.value.data)) n += a.value.data.byteLength;
    }
  return n;
}

/** A decoded model re-encodes (the IR holds nothing encodeModel cannot write). */
function reencodes(m: Model): void {
  expect(encodeModel(m).length).toBeGreaterThan(0);
}

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80);
  out.push(n);
  return out;
}
function readVarint(b: Uint8Array, at: number): { value: number; size: number } {
  let value = 0;
  for (let i = 0; ; i++) {
    value += (b[at + i]! & 0x7f) * 2 ** (7 * i);
    if (!(b[at + i]! & 0x80)) return { value, size: i + 1 };
  }
}

/** Offset of the tag of top-level field `num` (a one-byte tag) in a protobuf message. */
function topLevelField(b: Uint8Array, num: number): number {
  for (let at = 0; at < b.length;) {
    const tag = b[at]!;
    if (tag >> 3 === num) return at;
    const v = readVarint(b, at + 1);
    at += 1 + v.size + ((tag & 7) === 2 ? v.value : 0);
  }
  throw new Error(`no field ${num}`);
}
const field = (num: number, body: number[]): number[] => [...varint((num << 3) | 2), ...varint(body.length), ...body];

/** ModelProto whose graph nests `depth` If nodes, each holding the next graph in an attribute. */
function nestedGraphs(depth: number): Uint8Array {
  let g: number[] = [];
  for (let i = 0; i < depth; i++) {
    const attr = [...field(1, [0x67]), 0xa0, 0x01, 5, ...field(6, g)]; // name 'g', type GRAPH (5), g
    g = field(1, [...field(4, [0x49, 0x66]), ...field(5, attr)]); // node: op_type 'If', the attribute
  }
  return Uint8Array.from([0x08, 0x08, ...field(7, g), ...field(8, [0x10, 17])]);
}

describe('fuzz: ONNX decoder', () => {
  it('edited small models: a model or E_NOT_ONNX/E_MODEL_TRUNCATED, bounded', () => {
    fc.assert(
      fc.property(fc.constantFrom(...small), mutations(), (f, edits) => {
        const bytes = mutate(f.bytes, edits);
        const m = decodesOrRefuses(() => decodeModel(bytes, f.name), CODES);
        if (m) {
          expect(tensorBytes(m.graph)).toBeLessThanOrEqual(8 * bytes.length);
          reencodes(m);
        }
      }),
      fuzzParams(400),
    );
  });

  it('edited 480 KB model, edits mostly in its structure (the first 4 KB and the tail)', () => {
    fc.assert(
      fc.property(mutations(3), fc.boolean(), (edits, fromEnd) => {
        // the graph's nodes and value infos follow the weights: edit there half of the time
        const src = fromEnd ? Uint8Array.from(large.bytes).reverse() : large.bytes;
        const edited = mutate(src, edits, 4096);
        const bytes = fromEnd ? edited.reverse() : edited;
        const m = decodesOrRefuses(() => decodeModel(bytes, large.name), CODES);
        if (m) expect(tensorBytes(m.graph)).toBeLessThanOrEqual(8 * bytes.length);
      }),
      fuzzParams(80),
    );
  });

  it('random bytes and prefixes of real models', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        decodesOrRefuses(() => decodeModel(bytes), CODES);
      }),
      fuzzParams(300),
    );
    const f = small[0]!;
    for (let n = 0; n < f.bytes.length; n += 13) decodesOrRefuses(() => decodeModel(f.bytes.subarray(0, n)), CODES);
  });

  it('a length prefix claiming 4 GB is a truncation, not a 4 GB allocation', () => {
    // the graph field (7) of gru_classifier, its length rewritten to 2^32 - 1
    const f = small[0]!.bytes;
    const at = topLevelField(f, 7);
    const len = readVarint(f, at + 1);
    const bytes = Uint8Array.from([...f.subarray(0, at + 1), ...varint(0xffffffff), ...f.subarray(at + 1 + len.size)]);
    expect(bytes.length).toBe(f.length + 5 - len.size);
    expect(() => decodeModel(bytes, 'huge.onnx')).toThrow(/huge.onnx ends unexpectedly after/);
    expect(decodesOrRefuses(() => decodeModel(bytes, 'huge.onnx'), ['E_MODEL_TRUNCATED'])).toBeUndefined();
  });

  it('graphs nested beyond the protobuf recursion limit are refused, not a stack overflow', () => {
    expect(decodeModel(nestedGraphs(20)).graph.nodes).toHaveLength(1);
    for (const depth of [150, 300]) {
      const err = (() => {
        try {
          decodeModel(nestedGraphs(depth), 'nested.onnx');
        } catch (e) {
          return e as Error & { code?: string };
        }
      })();
      expect(err?.code).toBe('E_NOT_ONNX');
      expect(err?.message).toMatch(/recursion depth/);
    }
  });
});
