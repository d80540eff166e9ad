/**
 * Fuzzing the TFLite flatbuffer reader (src/tflite/read.ts) with edits of the real tflite-micro
 * models in test/fixtures/tflite: it returns a model or throws E_MODEL_INVALID, in bounded time,
 * and what it returns is bounded by the file (no vector longer than the bytes that would hold it).
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tfliteToOnnx } from '../../src/tflite/import.ts';
import { readTflite, type TfliteModel } from '../../src/tflite/read.ts';
import { decodesOrRefuses, fuzzParams, mutate, mutations } from './fuzz.ts';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'tflite');
const MODELS = ['hello_world_float', 'hello_world_int8', 'micro_speech_quantized', 'trained_lstm', 'person_detect'];
const files = MODELS.map((name) => ({ name, bytes: readFileSync(join(DIR, `${name}.tflite`)) }));

/** Items the reader built: every one of them was read from at least one byte of the file. */
function items(m: TfliteModel): number {
  let n = m.buffers.length;
  for (const g of m.subgraphs) {
    n += g.inputs.length + g.outputs.length;
    for (const t of g.tensors) n += 1 + t.shape.length + (t.quantization?.scale.length ?? 0);
    for (const op of g.operators) n += 1 + op.inputs.length + op.outputs.length;
  }
  return n;
}

describe('fuzz: TFLite reader', () => {
  it('reads every fixture unedited', () => {
    for (const f of files) expect(readTflite(f.bytes, f.name).subgraphs.length).toBeGreaterThan(0);
  });

  it('edited real models: a model or E_MODEL_INVALID, bounded by the file size', () => {
    fc.assert(
      fc.property(fc.constantFrom(...files), mutations(), (f, edits) => {
        const bytes = mutate(f.bytes, edits, 4096);
        const m = decodesOrRefuses(() => readTflite(bytes, f.name), ['E_MODEL_INVALID']);
        if (m) expect(items(m)).toBeLessThanOrEqual(bytes.length);
      }),
      fuzzParams(400),
    );
  });

  it('found by the fuzzer: a vector running past the end of the file is refused, not read as zeros', () => {
    // hello_world_float with 0xffffffff written over 4 bytes of its structure: the reader made
    // 65,590 items out of bytes past the end (the flatbuffers runtime reads them as 0)
    const bytes = mutate(files[0]!.bytes, [{ kind: 'u32', at: 1827506540, value: 0xffffffff }], 4096);
    expect(() => readTflite(bytes, 'edited.tflite')).toThrow(/runs past the end of the file/);
  });

  it('random bytes behind the TFL3 identifier', () => {
    const head = files[0]!.bytes.subarray(0, 8);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (tail) => {
        const bytes = new Uint8Array(8 + tail.length);
        bytes.set(head);
        bytes.set(tail, 8);
        decodesOrRefuses(() => readTflite(bytes), ['E_MODEL_INVALID']);
      }),
      fuzzParams(300),
    );
  });
});

describe('fuzz: TFLite import (reader + operator converters)', () => {
  it('edited small models: an ONNX model or a VergeError naming the problem', () => {
    fc.assert(
      fc.property(fc.constantFrom(...files.slice(0, 4)), mutations(), (f, edits) => {
        const bytes = mutate(f.bytes, edits, 4096);
        decodesOrRefuses(() => tfliteToOnnx(bytes, f.name), ['E_MODEL_INVALID', 'E_UNSUPPORTED']);
      }),
      fuzzParams(200),
    );
  });

  it('found by the fuzzer: an operator whose weight has rank 0 is E_MODEL_INVALID, not a TypeError', () => {
    // hello_world_float's first FULLY_CONNECTED weight shape [16, 1] edited to []: the converter read
    // shape[1] (undefined) and the graph builder threw "Cannot convert undefined to a BigInt"
    const m = readTflite(files[0]!.bytes);
    const weight = m.subgraphs[0]!.tensors[m.subgraphs[0]!.operators[0]!.inputs[1]!]!;
    expect(weight.shape).toEqual([16, 1]);
    const bytes = Uint8Array.from(files[0]!.bytes);
    const at = Buffer.from(bytes).indexOf(Buffer.from([2, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0]));
    expect(at).toBeGreaterThan(0);
    bytes.set([0, 0, 0, 0], at); // the shape vector's length: 0
    expect(readTflite(bytes).subgraphs[0]!.tensors[weight.index]!.shape).toEqual([]);
    expect(() => tfliteToOnnx(bytes, 'edited.tflite')).toThrow(/operator 0 \(FULLY_CONNECTED\) is malformed/);
  });
});
