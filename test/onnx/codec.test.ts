/**
 * Codec unit tests: tensors of every storage class and layout, sparse initializers, external-data
 * references, subgraphs (If/Loop/Scan), and the errors for truncated and non-ONNX files.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { equals, fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, TensorProto_DataLocation } from 'onnx-buf';
import { GraphBuilder, cloneModel, makeModel, makeTensor } from '../../src/onnx/builder.ts';
import { decodeModel, encodeModel, modelToProto } from '../../src/onnx/codec.ts';
import { numberToFloat16Bits, float16BitsToNumber, type DType } from '../../src/onnx/dtype.ts';
import { emptyGraph, type Graph, type Model, type Tensor } from '../../src/onnx/ir.ts';
import { VergeError } from '../../src/errors.ts';
import { fixturePath } from '../fixtures/index.ts';
import { BACKEND_SUITE_ROOT, backendSuiteSkipReason } from './backend-suite.ts';

function roundTrip(m: Model): { model: Model; bytes: Uint8Array } {
  const bytes = encodeModel(m);
  const model = decodeModel(bytes);
  // a second encode must reproduce the same bytes (encode is a function of the IR alone)
  expect(Buffer.compare(Buffer.from(encodeModel(model)), Buffer.from(bytes))).toBe(0);
  return { model, bytes };
}

function modelWithInitializers(tensors: Tensor[], sparse: Graph['sparseInitializers'] = []): Model {
  const g = emptyGraph('tensors');
  g.initializers = tensors;
  g.sparseInitializers = sparse;
  return makeModel(g);
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof VergeError ? e.code : `not a VergeError: ${String(e)}`;
  }
  return undefined;
}

describe('tensor storage round-trip', () => {
  const cases: { dtype: DType; values: number[] | bigint[] }[] = [
    { dtype: 'float32', values: [1.5, -2, 0, 3.25e-8, Infinity] },
    { dtype: 'float64', values: [Math.PI, -1e300, 0] },
    { dtype: 'float16', values: [1, -0.5, 65504, 2 ** -24].map(numberToFloat16Bits) },
    { dtype: 'int8', values: [-128, 127, 0, -1] },
    { dtype: 'uint8', values: [0, 255, 7] },
    { dtype: 'int32', values: [-(2 ** 31), 2 ** 31 - 1] },
    { dtype: 'int64', values: [-(2n ** 63n), 2n ** 63n - 1n, 0n, 42n] },
    { dtype: 'uint64', values: [2n ** 64n - 1n, 1n] },
    { dtype: 'bool', values: [1, 0, 1, 1] },
    { dtype: 'uint16', values: [65535, 0] },
  ];
  for (const layout of ['raw', 'typed'] as const) {
    for (const { dtype, values } of cases) {
      it(`${dtype} (${layout})`, () => {
        const t = makeTensor(`t_${dtype}`, dtype, [values.length], values as number[]);
        t.storage = layout;
        const { model, bytes } = roundTrip(modelWithInitializers([t]));
        const back = model.graph.initializers[0]!;
        expect(back.dtype).toBe(dtype);
        expect(back.storage).toBe(layout);
        expect(back.dims).toEqual([values.length]);
        expect(Array.from(back.data as ArrayLike<number | bigint>)).toEqual(
          Array.from(t.data as ArrayLike<number | bigint>),
        );
        const proto = fromBinary(ModelProtoSchema, bytes).graph!.initializer[0]!;
        expect(proto.rawData.length > 0).toBe(layout === 'raw');
      });
    }
  }

  it('float16 bits keep their values', () => {
    const bits = Uint16Array.from([1, -0.5, 65504, 2 ** -24].map(numberToFloat16Bits));
    expect(Array.from(bits, float16BitsToNumber)).toEqual([1, -0.5, 65504, 2 ** -24]);
  });

  it('string tensors keep arbitrary bytes', () => {
    const utf8 = new TextEncoder();
    const data = [utf8.encode('hello'), utf8.encode(''), Uint8Array.from([0xff, 0x00, 0xc3])];
    const t: Tensor = { name: 's', dtype: 'string', dims: [3], data, storage: 'typed' };
    const { model } = roundTrip(modelWithInitializers([t]));
    const back = model.graph.initializers[0]!.data as Uint8Array[];
    expect(back.map((b) => Array.from(b))).toEqual(data.map((b) => Array.from(b)));
  });

  it('scalars (dims []) and empty tensors', () => {
    const scalar = makeTensor('scalar', 'float32', [], [7]);
    const empty = makeTensor('empty', 'int64', [0, 3]);
    const { model } = roundTrip(modelWithInitializers([scalar, empty]));
    expect(model.graph.initializers[0]!.dims).toEqual([]);
    expect(Array.from(model.graph.initializers[0]!.data as Float32Array)).toEqual([7]);
    expect(model.graph.initializers[1]!.dims).toEqual([0, 3]);
    expect(model.graph.initializers[1]!.data.length).toBe(0);
  });
});

describe('sparse initializers and external data', () => {
  it('sparse initializers keep values, indices and dense dims', () => {
    const sparse = {
      values: makeTensor('w_sparse', 'float32', [3], [0.5, -1, 2]),
      indices: makeTensor('w_sparse_indices', 'int64', [3], [1n, 4n, 11n]),
      dims: [3, 4],
    };
    const { model, bytes } = roundTrip(modelWithInitializers([], [sparse]));
    const s = model.graph.sparseInitializers[0]!;
    expect(s.dims).toEqual([3, 4]);
    expect(s.values.name).toBe('w_sparse');
    expect(Array.from(s.values.data as Float32Array)).toEqual([0.5, -1, 2]);
    expect(Array.from(s.indices.data as BigInt64Array)).toEqual([1n, 4n, 11n]);
    expect(fromBinary(ModelProtoSchema, bytes).graph!.sparseInitializer).toHaveLength(1);
  });

  it('external-data references are preserved, not loaded', () => {
    const t: Tensor = {
      name: 'big_weight',
      dtype: 'float32',
      dims: [1024, 1024],
      data: new Float32Array(0),
      storage: 'external',
      externalData: [
        { key: 'location', value: 'weights.bin' },
        { key: 'offset', value: '4096' },
        { key: 'length', value: String(4 * 1024 * 1024) },
      ],
    };
    const { model, bytes } = roundTrip(modelWithInitializers([t]));
    const back = model.graph.initializers[0]!;
    expect(back.storage).toBe('external');
    expect(back.externalData).toEqual(t.externalData);
    expect(back.dims).toEqual([1024, 1024]);
    const proto = fromBinary(ModelProtoSchema, bytes).graph!.initializer[0]!;
    expect(proto.dataLocation).toBe(TensorProto_DataLocation.EXTERNAL);
    expect(proto.rawData.length).toBe(0);
  });
});

describe('subgraphs', () => {
  it('If with then/else branches built in verge round-trips', () => {
    const branch = (value: number): Graph => {
      const b = new GraphBuilder(emptyGraph(`branch_${value}`));
      const c = b.constFloat([value], [1], 'c');
      b.op('Identity', [c], {}, { output: `y_${value}` });
      b.output(`y_${value}`, 'float32', [1]);
      return b.graph;
    };
    const b = new GraphBuilder();
    b.input('cond', 'bool', []);
    const y = b.op('If', ['cond'], { then_branch: branch(1), else_branch: branch(2) });
    b.output(y, 'float32', [1]);
    const m = makeModel(b.graph, { opset: 17 });
    const { model } = roundTrip(m);
    const ifNode = model.graph.nodes[0]!;
    const thenBranch = ifNode.attributes['then_branch']!;
    expect(thenBranch.type).toBe('graph');
    expect(thenBranch.type === 'graph' && thenBranch.value.name).toBe('branch_1');
    expect(thenBranch.type === 'graph' && Array.from(thenBranch.value.initializers[0]!.data as Float32Array)).toEqual([
      1,
    ]);
    expect(equals(ModelProtoSchema, modelToProto(model), modelToProto(m))).toBe(true);
  });

  const skip = backendSuiteSkipReason();
  for (const [test, op, attr] of [
    ['test_if', 'If', 'then_branch'],
    ['test_loop11', 'Loop', 'body'],
    ['test_scan_sum', 'Scan', 'body'],
    ['test_scan9_sum', 'Scan', 'body'],
  ] as const) {
    it.skipIf(!!skip && process.env.CI !== 'true')(
      `${op} body from the backend suite (${test})${skip ? ` (skipped: ${skip})` : ''}`,
      () => {
        const path = join(BACKEND_SUITE_ROOT, 'node', test, 'model.onnx');
        expect(existsSync(path), skip).toBe(true);
        const bytes = new Uint8Array(readFileSync(path));
        const model = decodeModel(bytes, test);
        const node = model.graph.nodes.find((n) => n.opType === op)!;
        const body = node.attributes[attr]!;
        expect(body.type).toBe('graph');
        expect(body.type === 'graph' && body.value.nodes.length).toBeGreaterThan(0);
        expect(Buffer.compare(Buffer.from(encodeModel(model)), Buffer.from(bytes))).toBe(0);
      },
    );
  }
});

describe('cloneModel', () => {
  it('a clone encodes to the same bytes (presence of default-valued fields survives)', () => {
    // test_abs and friends set fields to their default values explicitly (e.g. domain '')
    const bytes = new Uint8Array(readFileSync(fixturePath('gru_classifier')));
    const model = decodeModel(bytes);
    expect(Buffer.compare(Buffer.from(encodeModel(cloneModel(model))), Buffer.from(bytes))).toBe(0);
    const skip = backendSuiteSkipReason();
    if (!skip) {
      const abs = new Uint8Array(readFileSync(join(BACKEND_SUITE_ROOT, 'node', 'test_abs', 'model.onnx')));
      expect(Buffer.compare(Buffer.from(encodeModel(cloneModel(decodeModel(abs)))), Buffer.from(abs))).toBe(0);
    }
  });
});

describe('bad files', () => {
  const bytes = new Uint8Array(readFileSync(fixturePath('seed_cnn')));

  it('truncated bytes give E_MODEL_TRUNCATED at any cut inside the graph', () => {
    // cuts across the whole file: inside varints, length-delimited fields and float data
    const cuts = [bytes.length - 1, Math.floor(bytes.length / 2), 1000, 200, 100, 60, 40];
    for (const cut of cuts)
      expect(
        codeOf(() => decodeModel(bytes.subarray(0, cut), 'cut.onnx')),
        `cut at ${cut}`,
      ).toBe('E_MODEL_TRUNCATED');
  });

  it('the truncation message names the byte count', () => {
    try {
      decodeModel(bytes.subarray(0, 4096), 'model.onnx');
      expect.unreachable();
    } catch (e) {
      expect((e as VergeError).message).toMatch(/model\.onnx .*4,096 bytes/);
    }
  });

  it('a text file gives E_NOT_ONNX', () => {
    const text = new TextEncoder().encode('{"this": "is json, not a model"}\n');
    expect(codeOf(() => decodeModel(text, 'model.json'))).toBe('E_NOT_ONNX');
    const csv = new TextEncoder().encode('a,b,c\n1,2,3\n');
    expect(codeOf(() => decodeModel(csv, 'data.csv'))).toBe('E_NOT_ONNX');
  });

  it('an empty file gives E_NOT_ONNX', () => {
    expect(codeOf(() => decodeModel(new Uint8Array(0), 'empty.onnx'))).toBe('E_NOT_ONNX');
  });
});
