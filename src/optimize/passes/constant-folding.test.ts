/**
 * Constant folding when parts of it fail: each test causes one failure (a value onnxruntime cannot
 * hand back on its own, a node that errors, a random op, a value too large) next to an ordinary
 * foldable chain, and checks that only the failing node and its dependents stay, that the chain
 * still folds, that the report names them with the reason, and that outputs are unchanged.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, cloneModel, makeModel, makeTensor } from '../../onnx/builder.ts';
import type { Model, Tensor } from '../../onnx/ir.ts';
import { Session } from '../../runtime/session.ts';
import type { TensorValue } from '../../runtime/tensor.ts';
import { maxRelDiff, runModel } from '../../../test/optimize/helpers.ts';
import { FOLD_MAX_GROWTH_BYTES, foldConstantsWithReport, predictOutputBytes } from './constant-folding.ts';
import { eliminateDeadNodes } from './dead-code.ts';
import { optimizeGraph } from './pipeline.ts';

const PASS_TOLERANCE = 1e-5;
const X: TensorValue = { dtype: 'float32', dims: [2, 4], data: Float32Array.from([1, -1, 0.5, 2, 0, 1, 2, 3]) };

/**
 * y = Relu(x @ (Transpose(w0) * 2)) [+ addend]: a chain of two foldable nodes ('transpose',
 * 'double'). `extra` adds the failing part, given the builder and x; a value it returns is added
 * to y.
 */
function withFoldableChain(extra: (b: GraphBuilder, x: string) => string | void): Model {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [2, 4]);
  const w0 = b.initializer('w0', 'float32', [3, 4], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const wt = b.op('Transpose', [w0], { perm: [1, 0] }, { name: 'transpose' });
  const w = b.op('Mul', [wt, b.scalar(2)], {}, { name: 'double' });
  const addend = extra(b, x);
  const h = b.op('Relu', [b.op('MatMul', [x, w])], {}, addend ? {} : { output: 'y' });
  b.output(addend ? b.op('Add', [h, addend], {}, { output: 'y' }) : h, 'float32', [2, 3]);
  return makeModel(b.graph, { opset: 17 });
}

function ops(m: Model): string[] {
  return m.graph.nodes.map((n) => n.opType);
}

function reasons(skipped: { node: string; reason: string }[]): Record<string, string> {
  return Object.fromEntries(skipped.map((s) => [s.node, s.reason]));
}

/** The chain folded: no Transpose or 'double' left, and the MatMul reads the folded weight. */
function expectChainFolded(m: Model): void {
  expect(m.graph.nodes.some((n) => n.name === 'transpose' || n.name === 'double')).toBe(false);
  const matmul = m.graph.nodes.find((n) => n.opType === 'MatMul' && n.inputs[0] === 'x')!;
  const w = m.graph.initializers.find((t) => t.name === matmul.inputs[1])!;
  expect(Array.from(w.data as Float32Array)).toEqual([2, 10, 18, 4, 12, 20, 6, 14, 22, 8, 16, 24]);
}

/** Keep only the outputs named (and what they need). */
function onlyOutputs(m: Model, names: string[]): Model {
  const out = cloneModel(m);
  out.graph.outputs = out.graph.outputs.filter((o) => names.includes(o.name));
  return eliminateDeadNodes(out);
}

async function expectSameOutputs(a: Model, b: Model, names?: string[]): Promise<void> {
  const ya = await runModel(a, { x: X });
  const yb = await runModel(b, { x: X });
  for (const k of names ?? Object.keys(ya)) expect(maxRelDiff(ya[k]!, yb[k]!)).toBeLessThan(PASS_TOLERANCE);
}

describe('constant folding falls back node by node', () => {
  it('a value onnxruntime cannot return on its own (bfloat16) leaves just that node and its reader', async () => {
    const m = withFoldableChain((b) => {
      const w1 = b.initializer('w1', 'float32', [3], [1.5, 2.01, -3.3]);
      const bf = b.op('Cast', [w1], { to: 16 }, { name: 'to_bf16' });
      return b.op('Cast', [bf], { to: 1 }, { name: 'from_bf16' });
    });
    const { model, skipped } = await foldConstantsWithReport(m);
    expectChainFolded(model);
    expect(ops(model)).toEqual(['Cast', 'Cast', 'MatMul', 'Relu', 'Add']);
    const why = reasons(skipped);
    expect(Object.keys(why).sort()).toEqual(['from_bf16', 'to_bf16']);
    expect(why.to_bf16).toMatch(/^onnxruntime cannot evaluate it on its own: .*data type/i);
    expect(why.from_bf16).toBe("its input 'cast' is not folded (to_bf16)");
    await expectSameOutputs(m, model);
  });

  it('a node that fails when evaluated leaves just it and its readers, with the error', async () => {
    const m = withFoldableChain((b, x) => {
      const w2 = b.initializer('w2', 'float32', [6], [1, 2, 3, 4, 5, 6]);
      const bad = b.op('Reshape', [w2, b.constInt64([7])], {}, { name: 'bad_reshape' });
      const s = b.op('ReduceSum', [bad], { keepdims: 0 }, { name: 'sum_bad' });
      b.output(b.op('Mul', [x, s], {}, { output: 'y2' }));
    });
    const { model, skipped } = await foldConstantsWithReport(m);
    expectChainFolded(model);
    const why = reasons(skipped);
    expect(Object.keys(why).sort()).toEqual(['bad_reshape', 'sum_bad']);
    expect(why.bad_reshape).toMatch(/cannot evaluate it on its own: .*cannot be reshaped/);
    expect(why.sum_bad).toMatch(/is not folded \(bad_reshape\)/);
    expect(ops(model).filter((o) => o === 'Reshape' || o === 'ReduceSum')).toEqual(['Reshape', 'ReduceSum']);
    // onnxruntime cannot run y2 in either model; y is what folding may not change
    await expect(runModel(m, { x: X })).rejects.toThrow(/reshape/);
    await expectSameOutputs(onlyOutputs(m, ['y']), onlyOutputs(model, ['y']));
  });

  it('never folds random ops, nor what reads them', async () => {
    const m = withFoldableChain((b, x) => {
      const w3 = b.initializer('w3', 'float32', [4], [1, 2, 3, 4]);
      const r = b.op('RandomUniformLike', [w3], { low: 0.25, high: 0.75 }, { name: 'rand_like' });
      const shifted = b.op('Add', [r, b.scalar(10)], {}, { name: 'shift_rand' });
      b.output(b.op('Mul', [x, shifted], {}, { output: 'y2' }));
      const n = b.op('RandomNormal', [], { shape: [4], dtype: 1 }, { name: 'rand' });
      const scaled = b.op('Mul', [n, b.scalar(0.1)], {}, { name: 'scale_rand' });
      b.output(b.op('Add', [x, scaled], {}, { output: 'y3' }));
    });
    const { model, skipped } = await foldConstantsWithReport(m);
    expectChainFolded(model);
    const why = reasons(skipped);
    expect(Object.keys(why).sort()).toEqual(['rand', 'rand_like', 'scale_rand', 'shift_rand']);
    expect(why.rand_like).toMatch(/nondeterministic/);
    expect(why.rand).toMatch(/nondeterministic/);
    expect(why.shift_rand).toMatch(/is not folded \(rand_like\)/);
    expect(why.scale_rand).toMatch(/is not folded \(rand\)/);
    // y2 and y3 still draw new values on every run
    const s = await Session.create(model, { threads: 1 });
    const [a, b] = [await s.run({ x: X }), await s.run({ x: X })];
    await s.release();
    for (const y of ['y2', 'y3']) expect(maxRelDiff(a[y]!, b[y]!)).toBeGreaterThan(0);
    await expectSameOutputs(m, model, ['y']);
  });
});

describe('constant folding size limit', () => {
  it('never evaluates a ConstantOfShape of terabytes and still folds the rest', async () => {
    const m = withFoldableChain((b, x) => {
      const shape = b.constInt64([1 << 20, 1 << 20]);
      const huge = b.op('ConstantOfShape', [shape], { value: makeTensor('v', 'float32', [1], [1]) }, { name: 'huge' });
      b.output(b.op('Mul', [huge, x], {}, { output: 'y2' }));
    });
    const { model, skipped } = await foldConstantsWithReport(m);
    expectChainFolded(model);
    expect(skipped).toEqual([
      {
        node: 'huge',
        op: 'ConstantOfShape',
        reason: `its output would be ${4 * 2 ** 40} bytes, over the ${FOLD_MAX_GROWTH_BYTES}-byte limit and larger than the constants it is computed from`,
      },
    ]);
    await expectSameOutputs(onlyOutputs(m, ['y']), onlyOutputs(model, ['y']));
  });

  it('leaves a 64 MB ConstantOfShape unevaluated; the model still computes the same', async () => {
    const m = withFoldableChain((b, x) => {
      const big = b.op('ConstantOfShape', [b.constInt64([4096, 4096])], {
        value: makeTensor('v', 'float32', [1], [0.5]),
      });
      const xs = b.op('ReduceSum', [x], { keepdims: 0 });
      b.output(b.op('ReduceMean', [b.op('Mul', [big, xs])], { keepdims: 0 }, { output: 'y2' }));
    });
    const { model, skipped } = await foldConstantsWithReport(m);
    expectChainFolded(model);
    expect(skipped.map((s) => s.op)).toEqual(['ConstantOfShape']);
    expect(skipped[0]!.reason).toMatch(/would be 67108864 bytes/);
    await expectSameOutputs(m, model);
  });

  it('a computed value too large to store unfolds its producer, whose inputs are stored instead', async () => {
    const m = withFoldableChain((b, x) => {
      const u = b.op('Mul', [
        b.constFloat(
          Array.from({ length: 1024 }, (_, i) => i / 1024),
          [1024, 1],
        ),
        b.scalar(2),
      ]);
      const v = b.op('Mul', [
        b.constFloat(
          Array.from({ length: 1024 }, (_, i) => 1 - i / 1024),
          [1, 1024],
        ),
        b.scalar(3),
      ]);
      const outer = b.op('MatMul', [u, v], {}, { name: 'outer' });
      const xs = b.op('ReduceSum', [x], { keepdims: 0 });
      b.output(b.op('ReduceMax', [b.op('Mul', [outer, xs])], { keepdims: 0 }, { output: 'y2' }));
      // the same outer product reduced right away is small: that one folds completely
      b.output(b.op('ReduceSum', [b.op('MatMul', [u, v], {}, { name: 'outer_summed' })], { keepdims: 0 }));
    });
    const { model, skipped } = await foldConstantsWithReport(m);
    expectChainFolded(model);
    expect(skipped).toEqual([
      {
        node: 'outer',
        op: 'MatMul',
        reason: `its output '${m.graph.nodes.find((n) => n.name === 'outer')!.outputs[0]}' is 4194304 bytes, over the ${FOLD_MAX_GROWTH_BYTES}-byte limit and larger than the constants it is computed from`,
      },
    ]);
    // the two scaled vectors became initializers feeding the kept MatMul; outer_summed is gone
    expect(model.graph.nodes.filter((n) => n.opType === 'MatMul' && n.inputs[0] !== 'x').map((n) => n.name)).toEqual([
      'outer',
    ]);
    const outer = model.graph.nodes.find((n) => n.name === 'outer')!;
    for (const i of outer.inputs) expect(model.graph.initializers.some((t) => t.name === i)).toBe(true);
    await expectSameOutputs(m, model);
  });

  it('predicts the output size of the ops that take their size from input values', async () => {
    const cases: { op: string; inputs: Tensor[]; attrs?: Record<string, unknown>; opset?: number }[] = [
      {
        op: 'ConstantOfShape',
        inputs: [makeTensor('s', 'int64', [2], [2, 3])],
        attrs: { value: makeTensor('v', 'int32', [1], [7]) },
      },
      {
        op: 'Expand',
        inputs: [makeTensor('a', 'float32', [3, 1], [1, 2, 3]), makeTensor('s', 'int64', [3], [2, 1, 4])],
      },
      {
        op: 'Tile',
        inputs: [makeTensor('a', 'int64', [2, 3], [1, 2, 3, 4, 5, 6]), makeTensor('r', 'int64', [2], [2, 3])],
      },
      {
        op: 'Range',
        inputs: [
          makeTensor('a', 'float32', [], [1]),
          makeTensor('b', 'float32', [], [10]),
          makeTensor('c', 'float32', [], [2]),
        ],
      },
      {
        op: 'OneHot',
        inputs: [
          makeTensor('i', 'int64', [3], [0, 2, 4]),
          makeTensor('d', 'float32', [], [5]),
          makeTensor('v', 'float32', [2], [0, 1]),
        ],
      },
      {
        op: 'Pad',
        inputs: [makeTensor('a', 'float32', [2, 3], [1, 2, 3, 4, 5, 6]), makeTensor('p', 'int64', [4], [1, 0, 1, 2])],
      },
      {
        op: 'Resize',
        inputs: [
          makeTensor('a', 'float32', [1, 1, 2, 3], [1, 2, 3, 4, 5, 6]),
          makeTensor('roi', 'float32', [0], []),
          makeTensor('sc', 'float32', [4], [1, 1, 2, 1.5]),
        ],
      },
      {
        op: 'Resize',
        inputs: [
          makeTensor('a', 'float32', [1, 1, 2, 3], [1, 2, 3, 4, 5, 6]),
          makeTensor('roi', 'float32', [0], []),
          makeTensor('sc', 'float32', [0], []),
          makeTensor('sz', 'int64', [4], [1, 1, 5, 7]),
        ],
      },
      {
        op: 'Upsample',
        inputs: [
          makeTensor('a', 'float32', [1, 1, 2, 3], [1, 2, 3, 4, 5, 6]),
          makeTensor('sc', 'float32', [4], [1, 1, 2, 3]),
        ],
        opset: 9,
      },
    ];
    for (const c of cases) {
      const b = new GraphBuilder();
      for (const t of c.inputs) b.addInitializer(t);
      b.output(
        b.op(
          c.op,
          c.inputs.map((t) => t.name),
          c.attrs as never,
        ),
      );
      const m = makeModel(b.graph, { opset: c.opset ?? 17 });
      const s = await Session.create(m, { graphOptimization: 'disabled' });
      const got = Object.values(await s.run({}))[0]!;
      await s.release();
      const known = new Map(c.inputs.map((t) => [t.name, t]));
      const bytes = (got.data as ArrayBufferView).byteLength;
      expect({ op: c.op, bytes: predictOutputBytes(m.graph.nodes[0]!, known) }).toEqual({ op: c.op, bytes });
    }
  });
});

describe('the pipeline reports what folding left', () => {
  it('fold-constants lists the nodes it could not fold; the other passes report no such list', async () => {
    const m = withFoldableChain((b) => {
      const w3 = b.initializer('w3', 'float32', [3], [1, 2, 3]);
      return b.op('RandomNormalLike', [w3], {}, { name: 'noise' });
    });
    const { model, passes } = await optimizeGraph(m);
    expectChainFolded(model);
    const fold = passes.find((p) => p.pass === 'fold-constants')!;
    expect(fold.skipped).toEqual([
      { node: 'noise', op: 'RandomNormalLike', reason: expect.stringMatching(/nondeterministic/) },
    ]);
    expect(fold.nodesAfter).toBe(fold.nodesBefore - 2);
    for (const p of passes) if (p.pass !== 'fold-constants') expect(p).not.toHaveProperty('skipped');
  });
});
