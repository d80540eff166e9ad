/**
 * Shape and type inference: against every output shape the ONNX backend suite declares, on the
 * PyTorch fixtures (symbolic batch kept through Shape/Gather/Concat computations), and on
 * hand-built graphs for the attribute/input forms that change with the opset.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeModel, encodeModel } from '../../src/onnx/codec.ts';
import { GraphBuilder, makeModel, ints } from '../../src/onnx/builder.ts';
import type { Dim, Model, TensorType } from '../../src/onnx/ir.ts';
import { loadModel } from '../../src/onnx/io.ts';
import { inferShapes, inferValues, shapeRuleOps, withValueInfo } from '../../src/onnx/shape/index.ts';
import { Session } from '../../src/runtime/session.ts';
import { isOrtDType, type TensorValue } from '../../src/runtime/tensor.ts';
import {
  SMALL_FIXTURES,
  TORCHVISION_FIXTURES,
  ensureTorchvisionFixture,
  fixturePath,
  fixtureSkipReason,
  readNpy,
  type TorchvisionFixture,
} from '../fixtures/index.ts';
import { backendSuiteSkipReason, listSuiteModels, readDataSets } from './backend-suite.ts';

/** Declared output shapes of the suite that inference reproduces exactly (measured: 1,035 of 1,241). */
const MIN_EXACT_SUITE_SHAPES = 1000;

type Verdict = 'exact' | 'partial' | 'unknown' | 'conflict';

/** Compare an inferred type with a declared one: conflict = a different dtype, rank or known dim. */
function verdict(inferred: TensorType | undefined, declared: TensorType): Verdict {
  if (!inferred || !inferred.shape) return 'unknown';
  if (inferred.dtype !== declared.dtype || inferred.shape.length !== declared.shape!.length) return 'conflict';
  let partial = false;
  for (let i = 0; i < inferred.shape.length; i++) {
    const a = inferred.shape[i];
    const b = declared.shape![i];
    if (a === b) continue;
    if (typeof a === 'number' && typeof b === 'number') return 'conflict';
    partial = true;
  }
  return partial ? 'partial' : 'exact';
}

const suiteSkip = backendSuiteSkipReason();

describe('inference against the ONNX backend suite', () => {
  it.skipIf(!!suiteSkip && process.env.CI !== 'true')(
    `declared output shapes are reproduced, never contradicted${suiteSkip ? ` (skipped: ${suiteSkip})` : ''}`,
    () => {
      expect(suiteSkip, suiteSkip).toBeUndefined();
      const counts: Record<Verdict, number> = { exact: 0, partial: 0, unknown: 0, conflict: 0 };
      const conflicts: string[] = [];
      const unknownOps = new Map<string, number>();
      for (const m of listSuiteModels()) {
        const model = decodeModel(new Uint8Array(readFileSync(m.modelPath)), m.id);
        // inputs and initializers only: the declared types being checked are not consulted
        const types = inferShapes(model, { trustDeclared: false });
        for (const o of model.graph.outputs) {
          if (o.type?.kind !== 'tensor' || !o.type.shape) continue;
          const v = verdict(types.get(o.name), o.type);
          counts[v]++;
          if (v === 'conflict') {
            const t = types.get(o.name)!;
            conflicts.push(
              `${m.id} '${o.name}': inferred ${t.dtype}[${t.shape}], declared ${o.type.dtype}[${o.type.shape}]`,
            );
          }
          if (v === 'unknown') {
            const producer = model.graph.nodes.find((n) => n.outputs.includes(o.name))?.opType ?? '?';
            unknownOps.set(producer, (unknownOps.get(producer) ?? 0) + 1);
          }
        }
      }
      console.log(
        `shape inference vs declared suite outputs: ${JSON.stringify(counts)}\n` +
          `  partial = some dims left unknown (they depend on input values at run time)\n` +
          `  unknown by producing op: ${[...unknownOps.entries()]
            .sort((a, b) => b[1] - a[1])
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
      );
      expect(conflicts).toEqual([]);
      expect(counts.exact).toBeGreaterThanOrEqual(MIN_EXACT_SUITE_SHAPES);
    },
  );
});

/**
 * Run `model` on onnxruntime with every inferred value exposed as an extra graph output and
 * compare: dtype, rank and every known dim must equal the computed tensor's; a symbolic dim must
 * take one value throughout the model. undefined when onnxruntime cannot load the model.
 */
async function checkAgainstRuntime(
  model: Model,
  feedsFor: (inputs: string[]) => Record<string, TensorValue>,
): Promise<{ values: number; wrong: string[] } | undefined> {
  const types = inferShapes(model, { trustDeclared: false });
  const declared = new Set(model.graph.outputs.map((o) => o.name));
  const extra = model.graph.nodes
    .flatMap((n) => n.outputs)
    .filter((o) => o && !declared.has(o) && types.get(o)?.shape && isOrtDType(types.get(o)!.dtype))
    .map((o) => ({ name: o, type: types.get(o)! }));
  const probe: Model = { ...model, graph: { ...model.graph, outputs: [...model.graph.outputs, ...extra] } };
  let session: Session;
  try {
    session = await Session.create(encodeModel(probe), { threads: 1, validateInputs: false, logSeverity: 4 });
  } catch {
    return undefined; // onnxruntime cannot load this model (the conformance test reports why)
  }
  try {
    const inits = new Set(model.graph.initializers.map((t) => t.name));
    const out = await session.run(feedsFor(model.graph.inputs.filter((i) => !inits.has(i.name)).map((i) => i.name)));
    const symbols = new Map<string, number>();
    const wrong: string[] = [];
    let values = 0;
    for (const [name, v] of Object.entries(out)) {
      const t = types.get(name);
      if (!t?.shape) continue;
      values++;
      const same =
        t.dtype === v.dtype &&
        t.shape.length === v.dims.length &&
        t.shape.every((d, i) => {
          if (typeof d === 'number') return d === v.dims[i];
          if (typeof d === 'string') {
            if (!symbols.has(d)) symbols.set(d, v.dims[i]!);
            return symbols.get(d) === v.dims[i];
          }
          return true;
        });
      if (!same) wrong.push(`'${name}': inferred ${t.dtype}[${t.shape}], onnxruntime ${v.dtype}[${v.dims}]`);
    }
    return { values, wrong };
  } finally {
    await session.release();
  }
}

describe('inference against onnxruntime', () => {
  it.skipIf(!!suiteSkip && process.env.CI !== 'true')(
    `every inferred value of the backend suite (intermediates included) has the dims onnxruntime computes${suiteSkip ? ` (skipped: ${suiteSkip})` : ''}`,
    async () => {
      expect(suiteSkip, suiteSkip).toBeUndefined();
      let models = 0;
      let values = 0;
      const wrong: string[] = [];
      for (const m of listSuiteModels()) {
        const model = decodeModel(new Uint8Array(readFileSync(m.modelPath)), m.id);
        const inits = new Set(model.graph.initializers.map((t) => t.name));
        const io = [...model.graph.inputs.filter((i) => !inits.has(i.name)), ...model.graph.outputs];
        if (io.some((v) => v.type?.kind !== 'tensor' || !isOrtDType(v.type.dtype))) continue;
        const ds = readDataSets(m)[0];
        if (!ds) continue;
        const r = await checkAgainstRuntime(model, (inputs) => {
          const feeds: Record<string, TensorValue> = {};
          ds.inputs.forEach((t, i) => {
            const name = t.name && inputs.includes(t.name) ? t.name : inputs[i]!;
            feeds[name] = { dtype: t.dtype, dims: t.dims, data: t.data };
          });
          return feeds;
        });
        if (!r) continue;
        models++;
        values += r.values;
        wrong.push(...r.wrong.map((w) => `${m.id} ${w}`));
      }
      console.log(
        `inferred types checked against onnxruntime: ${values} values in ${models} models, ${wrong.length} wrong`,
      );
      expect(wrong).toEqual([]);
      expect(values).toBeGreaterThan(2000);
    },
  );

  const fixtureSkip = fixtureSkipReason();
  for (const name of [...SMALL_FIXTURES, ...TORCHVISION_FIXTURES]) {
    const torchvision = (TORCHVISION_FIXTURES as readonly string[]).includes(name);
    it.skipIf(torchvision && !!fixtureSkip && process.env.CI !== 'true')(
      `${name}: every layer's inferred shape (batch symbolic) matches onnxruntime${torchvision && fixtureSkip ? ` (skipped: ${fixtureSkip})` : ''}`,
      async () => {
        const path = torchvision ? await ensureTorchvisionFixture(name as TorchvisionFixture) : fixturePath(name);
        expect(path, fixtureSkip).toBeDefined();
        const x = readNpy(fixturePath(`${name}.input.npy`));
        const r = await checkAgainstRuntime(loadModel(path!), (inputs) => ({
          [inputs[0]!]: { dtype: 'float32', dims: x.shape, data: x.data as Float32Array },
        }));
        expect(r).toBeDefined();
        expect(r!.wrong).toEqual([]);
        expect(r!.values).toBeGreaterThanOrEqual(
          loadModel(path!).graph.nodes.filter((n) => n.opType !== 'Constant').length,
        );
      },
    );
  }
});

function shapeOf(types: Map<string, TensorType>, name: string): Dim[] | undefined {
  return types.get(name)?.shape;
}

describe('inference on PyTorch fixtures', () => {
  it('seed CNN: every layer, batch kept symbolic', () => {
    const model = loadModel(fixturePath('seed_cnn'));
    const types = inferShapes(model, { trustDeclared: false });
    const byOp = model.graph.nodes.map((n) => [n.opType, shapeOf(types, n.outputs[0]!)]);
    expect(byOp).toEqual([
      ['Conv', ['batch', 32, 26, 26]],
      ['Relu', ['batch', 32, 26, 26]],
      ['MaxPool', ['batch', 32, 13, 13]],
      ['Conv', ['batch', 64, 11, 11]],
      ['Relu', ['batch', 64, 11, 11]],
      ['MaxPool', ['batch', 64, 5, 5]],
      ['Flatten', ['batch', 1600]],
      ['Gemm', ['batch', 64]],
      ['Relu', ['batch', 64]],
      ['Gemm', ['batch', 10]],
    ]);
  });

  it('GRU classifier: initial state computed from Shape/Gather/Concat resolves to [1, batch, 16]', () => {
    const model = loadModel(fixturePath('gru_classifier'));
    const types = inferShapes(model, { trustDeclared: false });
    const gru = model.graph.nodes.find((n) => n.opType === 'GRU')!;
    expect(shapeOf(types, gru.inputs[5]!)).toEqual([1, 'batch', 16]);
    expect(shapeOf(types, gru.outputs[0]!)).toEqual([5, 1, 'batch', 16]);
    expect(types.get('output')).toEqual({ kind: 'tensor', dtype: 'float32', shape: ['batch', 4] });
  });

  it('residual block: BatchNormalization and the skip Add keep the input shape', () => {
    const model = loadModel(fixturePath('residual_block'));
    const types = inferShapes(model, { trustDeclared: false });
    for (const n of model.graph.nodes) expect(shapeOf(types, n.outputs[0]!)).toEqual(['batch', 16, 8, 8]);
  });
});

/** One-node model: x (given shape) -> op -> y; extra inputs as int64 initializers. */
function single(
  op: string,
  xShape: Dim[],
  attrs: Record<string, unknown> = {},
  opts: { opset?: number; consts?: (number[] | null)[]; outputs?: number } = {},
): Map<string, TensorType> {
  const b = new GraphBuilder();
  b.input('x', 'float32', xShape);
  const extra = (opts.consts ?? []).map((c, i) => (c === null ? '' : b.constInt64(c, [c.length], `c${i}`)));
  b.node(op, ['x', ...extra], attrs as never, {
    outputs: Array.from({ length: opts.outputs ?? 1 }, (_, i) => `y${i}`),
  });
  return inferShapes(makeModel(b.graph, { opset: opts.opset ?? 17 }), { trustDeclared: false });
}

describe('op rules', () => {
  it('Conv: pads, strides, dilations, auto_pad', () => {
    const conv = (attrs: Record<string, unknown>, x: Dim[] = ['n', 3, 32, 32]) => {
      const b = new GraphBuilder();
      b.input('x', 'float32', x);
      const w = b.initializer('w', 'float32', [8, 3, 3, 3]);
      b.node('Conv', ['x', w], attrs as never, { outputs: ['y'] });
      return shapeOf(inferShapes(makeModel(b.graph), { trustDeclared: false }), 'y');
    };
    expect(conv({})).toEqual(['n', 8, 30, 30]);
    expect(conv({ pads: ints([1, 1, 1, 1]) })).toEqual(['n', 8, 32, 32]);
    expect(conv({ strides: ints([2, 2]) })).toEqual(['n', 8, 15, 15]);
    expect(conv({ dilations: ints([2, 2]) })).toEqual(['n', 8, 28, 28]);
    expect(conv({ auto_pad: 'SAME_UPPER', strides: ints([2, 2]) })).toEqual(['n', 8, 16, 16]);
    expect(conv({ auto_pad: 'VALID', strides: ints([2, 2]) })).toEqual(['n', 8, 15, 15]);
    expect(conv({}, ['n', 3, 'h', 32])).toEqual(['n', 8, null, 30]);
  });

  it('MaxPool: ceil_mode, and Indices is int64', () => {
    const t = single(
      'MaxPool',
      [1, 1, 5, 5],
      { kernel_shape: ints([2, 2]), strides: ints([2, 2]), ceil_mode: 1 },
      { outputs: 2 },
    );
    expect(shapeOf(t, 'y0')).toEqual([1, 1, 3, 3]);
    expect(t.get('y1')?.dtype).toBe('int64');
    const floor = single('MaxPool', [1, 1, 5, 5], { kernel_shape: ints([2, 2]), strides: ints([2, 2]) });
    expect(shapeOf(floor, 'y0')).toEqual([1, 1, 2, 2]);
  });

  it('Reshape: 0 copies, -1 infers, symbolic dims cancel', () => {
    expect(shapeOf(single('Reshape', ['b', 3, 4], {}, { consts: [[0, -1]] }), 'y0')).toEqual(['b', 12]);
    expect(shapeOf(single('Reshape', ['b', 12], {}, { consts: [[0, -1, 4]] }), 'y0')).toEqual(['b', 3, 4]);
    expect(shapeOf(single('Reshape', ['b', 12], {}, { consts: [[-1, 4]] }), 'y0')).toEqual([null, 4]);
    expect(shapeOf(single('Reshape', [2, 3, 4], {}, { consts: [[4, -1]] }), 'y0')).toEqual([4, 6]);
  });

  it('Squeeze/Unsqueeze: attribute before opset 13, input from 13', () => {
    expect(shapeOf(single('Unsqueeze', [3, 4], { axes: ints([0, 3]) }, { opset: 11 }), 'y0')).toEqual([1, 3, 4, 1]);
    expect(shapeOf(single('Unsqueeze', [3, 4], {}, { opset: 13, consts: [[0, -1]] }), 'y0')).toEqual([1, 3, 4, 1]);
    expect(shapeOf(single('Squeeze', [1, 3, 1, 4], { axes: ints([0]) }, { opset: 11 }), 'y0')).toEqual([3, 1, 4]);
    expect(shapeOf(single('Squeeze', [1, 3, 1, 4], {}, { opset: 13, consts: [[2]] }), 'y0')).toEqual([1, 3, 4]);
    expect(shapeOf(single('Squeeze', [1, 3, 1, 4], {}, { opset: 13 }), 'y0')).toEqual([3, 4]);
  });

  it('ReduceSum/ReduceMean: axes as input (ReduceSum 13+, ReduceMean 18+) or attribute, keepdims', () => {
    expect(shapeOf(single('ReduceSum', [2, 3, 4], {}, { opset: 13, consts: [[1]] }), 'y0')).toEqual([2, 1, 4]);
    expect(shapeOf(single('ReduceSum', [2, 3, 4], { keepdims: 0, axes: ints([1]) }, { opset: 11 }), 'y0')).toEqual([
      2, 4,
    ]);
    expect(shapeOf(single('ReduceMean', [2, 3, 4], { axes: ints([-1]) }, { opset: 17 }), 'y0')).toEqual([2, 3, 1]);
    expect(shapeOf(single('ReduceMean', [2, 3, 4], { keepdims: 0 }, { opset: 18, consts: [[0, 2]] }), 'y0')).toEqual([
      3,
    ]);
    expect(shapeOf(single('ReduceMean', [2, 3, 4], { keepdims: 0 }, { opset: 17 }), 'y0')).toEqual([]);
  });

  it('Split, Slice, Gather, Transpose, Concat, Flatten', () => {
    const split = single('Split', [6, 4], { axis: 0 }, { opset: 13, consts: [[2, 4]], outputs: 2 });
    expect([shapeOf(split, 'y0'), shapeOf(split, 'y1')]).toEqual([
      [2, 4],
      [4, 4],
    ]);
    expect(shapeOf(single('Slice', ['b', 10], {}, { opset: 13, consts: [[1], [-1], [1], [2]] }), 'y0')).toEqual([
      'b',
      4,
    ]);
    expect(shapeOf(single('Transpose', ['b', 3, 5], { perm: ints([2, 0, 1]) }), 'y0')).toEqual([5, 'b', 3]);
    expect(shapeOf(single('Flatten', ['b', 3, 5, 2], { axis: 2 }), 'y0')).toEqual([null, 10]);
    expect(shapeOf(single('Flatten', [2, 3, 5, 2], { axis: -1 }), 'y0')).toEqual([30, 2]);
  });

  it('broadcasting keeps symbols and promotes 1s', () => {
    const b = new GraphBuilder();
    b.input('a', 'float32', ['b', 1, 4]);
    b.input('c', 'float32', [3, 1]);
    b.node('Add', ['a', 'c'], {}, { outputs: ['s'] });
    b.node('Greater', ['a', 'c'], {}, { outputs: ['g'] });
    const t = inferShapes(makeModel(b.graph), { trustDeclared: false });
    expect(t.get('s')).toEqual({ kind: 'tensor', dtype: 'float32', shape: ['b', 3, 4] });
    expect(t.get('g')).toEqual({ kind: 'tensor', dtype: 'bool', shape: ['b', 3, 4] });
  });

  it('quantized ops: output types from zero points / int32 accumulators', () => {
    const b = new GraphBuilder();
    b.input('x', 'float32', [1, 8]);
    const s = b.scalar(0.1);
    const zp = b.initializer('zp', 'uint8', [], [128]);
    const q = b.op('QuantizeLinear', ['x', s, zp]);
    const w = b.initializer('w', 'uint8', [8, 4]);
    const mm = b.op('MatMulInteger', [q, w]);
    const dq = b.op('DequantizeLinear', [q, s, zp]);
    const dyn = b.node('DynamicQuantizeLinear', ['x'], {}, { outputs: 3 });
    const t = inferShapes(makeModel(b.graph), { trustDeclared: false });
    expect(t.get(q)).toEqual({ kind: 'tensor', dtype: 'uint8', shape: [1, 8] });
    expect(t.get(mm)).toEqual({ kind: 'tensor', dtype: 'int32', shape: [1, 4] });
    expect(t.get(dq)).toEqual({ kind: 'tensor', dtype: 'float32', shape: [1, 8] });
    expect(dyn.map((o) => t.get(o)?.shape)).toEqual([[1, 8], [], []]);
  });

  it('Einsum with an ellipsis: the unnamed dims broadcast and lead an implicit output', () => {
    const einsum = (eq: string, ...shapes: Dim[][]) => {
      const b = new GraphBuilder();
      shapes.forEach((s, i) => b.input(`x${i}`, 'float32', s));
      b.node(
        'Einsum',
        shapes.map((_, i) => `x${i}`),
        { equation: eq } as never,
        { outputs: ['y'] },
      );
      return shapeOf(inferShapes(makeModel(b.graph, { opset: 12 }), { trustDeclared: false }), 'y');
    };
    expect(einsum('...ii ->...i', [3, 5, 5])).toEqual([3, 5]);
    expect(einsum('...ij,...jk', ['n', 1, 2, 3], [4, 3, 6])).toEqual(['n', 4, 2, 6]);
    expect(einsum('ij...->j', [2, 3, 7, 7])).toEqual([3]);
  });

  it('inputShapes replaces the declared input shapes', () => {
    const b = new GraphBuilder();
    b.input('x', 'float32', ['batch', 12]);
    const target = b.constInt64([3, 4], [2], 'target');
    b.node('Reshape', ['x', target], {}, { outputs: ['y'] });
    b.node('Shape', ['x'], {}, { outputs: ['s'] });
    const model = makeModel(b.graph);
    const given = new Map<string, Dim[]>([['x', [2, 6]]]);
    expect(shapeOf(inferShapes(model, { trustDeclared: false }), 'y')).toEqual([3, 4]);
    expect(shapeOf(inferShapes(model, { trustDeclared: false, inputShapes: given }), 's')).toEqual([2]);
    expect(inferValues(model, { trustDeclared: false, inputShapes: given }).get('s')?.values).toEqual([2, 6]);
  });

  it('unknown ops and malformed nodes give unknown, never an exception', () => {
    const b = new GraphBuilder();
    b.input('x', 'float32', [2, 3]);
    const u = b.op('NoSuchOp', ['x'], {}, { domain: 'com.example' });
    const r = b.op('Relu', [u]);
    const bad = b.op('Transpose', ['x'], { perm: ints([0, 1, 2, 3]) });
    const noAttr = b.op('MaxPool', ['x']);
    const t = inferShapes(makeModel(b.graph), { trustDeclared: false });
    expect(t.get(u)).toBeUndefined();
    expect(t.get(r)).toBeUndefined();
    expect(t.get(bad)).toBeUndefined();
    expect(t.get(noAttr)?.shape).toBeUndefined();
  });

  it('every rule file in src/onnx/shape/ops is registered', () => {
    const dir = join(import.meta.dirname, '../../src/onnx/shape/ops');
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.ts') && f !== 'index.ts')
      .map((f) => f.slice(0, -3))
      .sort();
    expect(shapeRuleOps()).toEqual(files);
  });
});

describe('withValueInfo', () => {
  it('fills value_info without touching the input model; onnxruntime runs the result unchanged', async () => {
    const bytes = new Uint8Array(readFileSync(fixturePath('seed_cnn')));
    const model = decodeModel(bytes);
    const valueInfoBefore = model.graph.valueInfo;
    const annotated: Model = withValueInfo(model);
    expect(model.graph.valueInfo).toBe(valueInfoBefore);
    expect(model.graph.valueInfo).toHaveLength(0);
    expect(Buffer.compare(Buffer.from(encodeModel(model)), Buffer.from(bytes))).toBe(0);
    const infos = new Map(annotated.graph.valueInfo.map((v) => [v.name, v.type]));
    for (const n of model.graph.nodes.slice(0, -1)) expect(infos.get(n.outputs[0]!)).toBeDefined();
    expect(infos.get(model.graph.nodes[6]!.outputs[0]!)).toEqual({
      kind: 'tensor',
      dtype: 'float32',
      shape: ['batch', 1600],
    });

    const x = readNpy(fixturePath('seed_cnn.input.npy'));
    const want = readNpy(fixturePath('seed_cnn.output.npy'));
    const session = await Session.create(annotated, { threads: 1 });
    try {
      const out = await session.run({ input: { dtype: 'float32', dims: x.shape, data: x.data as Float32Array } });
      const got = out['output']!.data as Float32Array;
      const expected = want.data as Float32Array;
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - expected[i]!)).toBeLessThan(1e-4);
    } finally {
      await session.release();
    }
  });
});

describe('onnxruntime contrib ops (com.microsoft)', () => {
  it('fused and quantized forms get Conv/Gemm/MatMul shapes, and count MACs', async () => {
    const { modelInfo } = await import('../../src/onnx/info.ts');
    const b = new GraphBuilder();
    b.input('x', 'float32', ['n', 3, 8, 8]);
    const w = b.initializer('w', 'float32', [4, 3, 3, 3]);
    const c = b.op('FusedConv', ['x', w], { activation: 'Relu' }, { domain: 'com.microsoft' });
    const f = b.op('Flatten', [c]);
    const wm = b.initializer('wm', 'float32', [144, 10]);
    const m = b.op('FusedMatMul', [f, wm], {}, { domain: 'com.microsoft' });
    b.output(m);
    const model = makeModel(b.graph, { extraOpsets: [{ domain: 'com.microsoft', version: 1 }] });
    const t = inferShapes(model, { trustDeclared: false });
    expect(shapeOf(t, c)).toEqual(['n', 4, 6, 6]);
    expect(shapeOf(t, m)).toEqual(['n', 10]);
    expect(modelInfo(model).macs).toBe(4 * 6 * 6 * 27 + 144 * 10);
    expect(shapeRuleOps('com.microsoft')).toContain('QLinearAdd');
  });
});
