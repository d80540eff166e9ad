import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GraphBuilder, makeModel } from '../../onnx/builder.ts';
import { encodeModel } from '../../onnx/codec.ts';
import { loadModel, saveModel } from '../../onnx/io.ts';
import type { Model, Tensor } from '../../onnx/ir.ts';
import { withMinimumIrVersion } from '../../onnx/ir-version.ts';
import type { TensorValue } from '../../runtime/tensor.ts';
import { fixturePath } from '../../../test/fixtures/index.ts';
import { checkOnnxFiles } from '../../../test/fixtures/onnx-checker.ts';
import { maxRelDiff, runModel, sampleImages, trainedFixture } from '../../../test/optimize/helpers.ts';
import { atOpset, maskedEquivalent } from '../../../test/optimize/prune-helpers.ts';
import { polynomialSparsity, pruneMagnitude, pruningMasks, sparsityReport } from './magnitude.ts';
import { densifySparseInitializers, toSparseInitializers } from './sparse-storage.ts';
import { pruneFilters } from './structured.ts';

const TOLERANCE = 1e-5;

/** A float32 initializer of `dims` with deterministic values f(0), f(1), ... */
function weight(b: GraphBuilder, name: string, dims: number[], f: (i: number) => number): string {
  return b.initializer(
    name,
    'float32',
    dims,
    Array.from({ length: dims.reduce((p, q) => p * q, 1) }, (_, i) => f(i)),
  );
}

function init(m: Model, name: string): Tensor {
  return m.graph.initializers.find((t) => t.name === name)!;
}

async function expectSame(a: Model, b: Model, feeds: Record<string, TensorValue>, tol = TOLERANCE): Promise<void> {
  const ya = await runModel(a, feeds);
  const yb = await runModel(b, feeds);
  for (const k of Object.keys(ya)) expect(maxRelDiff(ya[k]!, yb[k]!)).toBeLessThan(tol);
}

describe('unstructured magnitude pruning', () => {
  it('reaches the target sparsity globally and per layer', () => {
    const m = trainedFixture('seed_cnn_fmnist');
    const global = pruneMagnitude(m, { sparsity: 0.8 });
    expect(global.report.sparsity).toBeCloseTo(0.8, 4);
    // a global threshold prunes big layers harder than small ones
    const layers = global.report.layers;
    expect(new Set(layers.map((l) => l.sparsity.toFixed(2))).size).toBeGreaterThan(1);
    const perLayer = pruneMagnitude(m, { sparsity: 0.8, scope: 'layer' });
    for (const l of perLayer.report.layers) expect(Math.abs(l.sparsity - 0.8)).toBeLessThan(0.5 / l.elements + 1e-9);
    // pure: the input model is untouched
    expect(sparsityReport(m).sparsity).toBeLessThan(0.01);
  });

  it('zeroes the smallest magnitudes', () => {
    const m = trainedFixture('seed_cnn_fmnist');
    const { model } = pruneMagnitude(m, { sparsity: 0.5 });
    const before = init(m, 'net.7.weight').data as Float32Array;
    const after = init(model, 'net.7.weight').data as Float32Array;
    let maxZeroed = 0;
    let minKept = Infinity;
    for (let i = 0; i < before.length; i++) {
      if (after[i] === 0) maxZeroed = Math.max(maxZeroed, Math.abs(before[i]!));
      else minKept = Math.min(minKept, Math.abs(before[i]!));
    }
    expect(maxZeroed).toBeLessThanOrEqual(minKept);
  });

  it('rejects a sparsity outside [0, 1)', () => {
    expect(() => pruneMagnitude(trainedFixture('seed_cnn_fmnist'), { sparsity: 1.2 })).toThrow(
      /E_BAD_ARGUMENT|sparsity/,
    );
  });

  it('keep-masks and the polynomial schedule', () => {
    const { model } = pruneMagnitude(trainedFixture('seed_cnn_fmnist'), { sparsity: 0.6 });
    const masks = pruningMasks(model);
    const m = masks.get('net.7.weight')!;
    const d = init(model, 'net.7.weight').data as Float32Array;
    for (let i = 0; i < d.length; i++) expect(m[i]).toBe(d[i] === 0 ? 0 : 1);
    expect(polynomialSparsity(0, 100, 0.8)).toBe(0);
    expect(polynomialSparsity(100, 100, 0.8)).toBeCloseTo(0.8);
    expect(polynomialSparsity(50, 100, 0.8)).toBeCloseTo(0.8 - 0.8 * 0.125);
    expect(polynomialSparsity(200, 100, 0.8)).toBeCloseTo(0.8);
  });
});

describe('sparse initializers', () => {
  it('an 80%-sparse seed CNN file is <= 0.35x in the default (mask) layout, standard-valid, with the same outputs', async () => {
    const dense = trainedFixture('seed_cnn_fmnist');
    const { model: pruned } = pruneMagnitude(dense, { sparsity: 0.8 });
    const { model: masked, report } = toSparseInitializers(pruned);
    // the big weights get masks; small layers that keep more weights under one global threshold stay
    // dense when values + mask would not save enough
    expect(report.tensors.map((t) => t.name)).toEqual(expect.arrayContaining(['net.3.weight', 'net.7.weight']));
    expect(masked.graph.sparseInitializers).toEqual([]);
    const ratio = encodeModel(masked).length / encodeModel(dense).length;
    console.log(`80% sparse seed CNN, mask layout: ${(ratio * 100).toFixed(1)}% of the dense file`);
    expect(ratio).toBeLessThanOrEqual(0.35);
    const feeds = { input: sampleImages(4) };
    await expectSame(pruned, masked, feeds);
    // sparse initializers: int64 indices (checker-typed, bigger) and the opt-in int16 'compact' chunks
    const strict = toSparseInitializers(pruned, { layout: 'int64' }).model;
    await expectSame(pruned, strict, feeds);
    const compact = toSparseInitializers(pruned, { layout: 'compact' });
    expect(compact.report.tensors.find((t) => t.name === 'net.7.weight')!.chunks).toBe(4);
    await expectSame(pruned, compact.model, feeds);
    expect(encodeModel(strict).length).toBeGreaterThan(encodeModel(compact.model).length);
    expect(encodeModel(compact.model).length).toBeGreaterThan(encodeModel(masked).length);
    // what `verge prune --help` says of each layout: only 'mask' passes ONNX 1.12's full_check
    const dir = mkdtempSync(join(tmpdir(), 'verge-layouts-'));
    try {
      const files = { mask: masked, int64: strict, compact: compact.model };
      for (const [name, m] of Object.entries(files)) saveModel(m, join(dir, `${name}.onnx`));
      const checked = checkOnnxFiles(Object.keys(files).map((n) => join(dir, `${n}.onnx`)));
      if (!checked.skipped) {
        expect(checked.failures.map((f) => f.slice(dir.length + 1, f.indexOf('.onnx')))).toEqual(['int64', 'compact']);
        expect(checked.failures[0]).toMatch(/sparse_tensor\(float\)/);
        expect(checked.failures[1]).toMatch(/INT64/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('opsets 9 and 10 (no CumSum) rebuild masks with NonZero + Scatter: same outputs, <= 0.35x, checker-valid; below 9 the weights stay dense', async () => {
    const dense = trainedFixture('seed_cnn_fmnist');
    const { model: pruned } = pruneMagnitude(dense, { sparsity: 0.8 });
    const feeds = { input: sampleImages(4) };
    const dir = mkdtempSync(join(tmpdir(), 'verge-old-opsets-'));
    try {
      const files: string[] = [];
      for (const v of [9, 10]) {
        const { model, report } = toSparseInitializers(atOpset(pruned, v));
        expect(report.stored).toBe('mask');
        expect(model.graph.sparseInitializers).toEqual([]);
        const ops = model.graph.nodes.map((n) => n.opType);
        expect(ops).toEqual(expect.arrayContaining(['NonZero', 'Scatter', 'ConstantOfShape']));
        expect(ops).not.toEqual(expect.arrayContaining(['CumSum']));
        const ratio = encodeModel(model).length / encodeModel(atOpset(dense, v)).length;
        console.log(`80% sparse seed CNN at opset ${v}, mask layout: ${(ratio * 100).toFixed(1)}% of the dense file`);
        expect(ratio).toBeLessThanOrEqual(0.35);
        await expectSame(atOpset(pruned, v), model, feeds);
        // densify (before fine-tuning or quantizing) gets the exact pruned weights back
        const back = densifySparseInitializers(model);
        for (const t of pruned.graph.initializers)
          expect(Array.from(init(back, t.name).data as Float32Array)).toEqual(Array.from(t.data as Float32Array));
        expect(back.graph.nodes.map((n) => n.opType)).toEqual(pruned.graph.nodes.map((n) => n.opType));
        files.push(join(dir, `opset${v}.onnx`));
        saveModel(withMinimumIrVersion(model), files.at(-1)!);
      }
      const { model: old, report } = toSparseInitializers(atOpset(pruned, 8));
      expect(report.stored).toBe('dense');
      expect(report.note).toMatch(/opset 8 .*stay dense/);
      expect(old.graph.sparseInitializers).toEqual([]);
      expect(old.graph.nodes.map((n) => n.opType)).toEqual(pruned.graph.nodes.map((n) => n.opType));
      files.push(join(dir, 'opset8.onnx'));
      saveModel(withMinimumIrVersion(old), files.at(-1)!);
      const checked = checkOnnxFiles(files);
      if (!checked.skipped) expect(checked.failures).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(['mask', 'int64', 'compact'] as const)('densify restores the pruned dense weights exactly (%s)', (layout) => {
    const { model: pruned } = pruneMagnitude(trainedFixture('seed_cnn_fmnist'), { sparsity: 0.8 });
    const back = densifySparseInitializers(toSparseInitializers(pruned, { layout }).model);
    expect(back.graph.sparseInitializers).toEqual([]);
    expect(back.graph.nodes.map((n) => n.opType)).toEqual(pruned.graph.nodes.map((n) => n.opType));
    expect(back.graph.initializers.map((t) => t.name).sort()).toEqual(
      pruned.graph.initializers.map((t) => t.name).sort(),
    );
    for (const t of pruned.graph.initializers) {
      const u = init(back, t.name);
      expect(u.dims).toEqual(t.dims);
      expect(Array.from(u.data as Float32Array)).toEqual(Array.from(t.data as Float32Array));
    }
  });

  it('leaves dense tensors dense', () => {
    const { report } = toSparseInitializers(trainedFixture('seed_cnn_fmnist'));
    expect(report.tensors).toEqual([]);
  });
});

describe('structured filter pruning', () => {
  it('removes half the filters/units of the seed CNN and computes the masked function', async () => {
    const m = trainedFixture('seed_cnn_fmnist');
    const { model, report } = pruneFilters(m, { ratio: 0.5, norm: 'l1' });
    expect(report.layers.map((l) => [l.op, l.before, l.after])).toEqual([
      ['Conv', 32, 16],
      ['Conv', 64, 32],
      ['Gemm', 64, 32],
    ]);
    // the output layer feeds the graph output: never pruned
    expect(report.skipped.map((s) => s.reason)).toEqual(['its channels are a graph output']);
    expect(init(model, 'net.3.weight').dims).toEqual([32, 16, 3, 3]);
    expect(init(model, 'net.7.weight').dims).toEqual([32, 32 * 25]);
    expect(init(model, 'net.9.weight').dims).toEqual([10, 32]);
    expect(report.parametersAfter).toBeLessThan(report.parametersBefore * 0.3);
    await expectSame(maskedEquivalent(m, report), model, { input: sampleImages(3) });
  });

  it('prunes through BatchNorm and the computed-shape flatten; L2 picks by a different norm', async () => {
    const bn = trainedFixture('seed_cnn_bn_fmnist');
    const r = pruneFilters(bn, { ratio: 0.25, norm: 'l2' });
    expect(r.report.layers.map((l) => l.after)).toEqual([24, 48, 48]);
    expect(init(r.model, bn.graph.nodes[1]!.inputs[1]!).dims).toEqual([24]);
    await expectSame(maskedEquivalent(bn, r.report), r.model, { input: sampleImages(3) });
    const view = trainedFixture('seed_cnn_view_fmnist');
    const v = pruneFilters(view, { ratio: 0.5 });
    expect(v.report.layers.length).toBe(3);
    await expectSame(maskedEquivalent(view, v.report), v.model, { input: sampleImages(2) });
  });

  it('residual_block: prunes conv1 and rewires conv2; the Add tied to the input and output keeps conv2 whole', async () => {
    const m = loadModel(fixturePath('residual_block'));
    const { model, report } = pruneFilters(m, { ratio: 0.5 });
    expect(report.layers.map((l) => [l.name, l.before, l.after])).toEqual([['/conv1/Conv', 16, 8]]);
    // conv2's channels are added to the graph input and reach the graph output
    expect(report.skipped.map((s) => s.name)).toEqual(['/conv2/Conv']);
    expect(report.skipped[0]!.reason).toMatch(/graph (input|output)/);
    const conv1 = m.graph.nodes.find((n) => n.name === '/conv1/Conv')!;
    const conv2 = m.graph.nodes.find((n) => n.name === '/conv2/Conv')!;
    expect(init(model, conv1.inputs[1]!).dims).toEqual([8, 16, 3, 3]);
    expect(init(model, conv2.inputs[1]!).dims).toEqual([16, 8, 3, 3]);
    // (convs without bias) conv1 filters, bn1's 4 vectors, conv2's input channels: half of each
    const removed = 8 * 16 * 9 + 4 * 8 + 16 * 8 * 9;
    expect(report.parametersBefore).toBe(4736);
    expect(report.parametersAfter).toBe(4736 - removed);
    const x = new Float32Array(2 * 16 * 64).map((_, i) => Math.sin(i));
    await expectSame(maskedEquivalent(m, report), model, { input: { dtype: 'float32', dims: [2, 16, 8, 8], data: x } });
  });

  /** stem conv -> BN -> relu -> identity block -> projection block -> (+ per-channel constant) -> GAP -> Gemm */
  function resnetLike(): Model {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['n', 3, 8, 8]);
    let k = 0;
    const w = (name: string, dims: number[]) => weight(b, name, dims, (i) => Math.cos(i * 0.61 + ++k * 0.13));
    const pos = (name: string, n: number) =>
      b.initializer(
        name,
        'float32',
        [n],
        Array.from({ length: n }, (_, i) => 0.5 + ((i * 7) % 5) / 4),
      );
    const conv = (name: string, input: string, o: number, i: number, kk: number, attrs = {}) =>
      b.op(
        'Conv',
        [input, w(`${name}.w`, [o, i, kk, kk]), w(`${name}.b`, [o])],
        { pads: kk === 3 ? [1, 1, 1, 1] : [0, 0, 0, 0], ...attrs },
        { name },
      );
    const bn = (name: string, input: string, c: number) =>
      b.op(
        'BatchNormalization',
        [input, pos(`${name}.g`, c), w(`${name}.beta`, [c]), w(`${name}.mean`, [c]), pos(`${name}.var`, c)],
        {},
        { name },
      );
    const stem = b.op('Relu', [bn('bn0', conv('stem', x, 8, 3, 3), 8)]);
    // identity block: stem + bn(convB(relu(convA(stem))))
    const a1 = b.op('Relu', [conv('convA', stem, 8, 8, 3)]);
    const add1 = b.op('Relu', [b.op('Add', [stem, bn('bnB', conv('convB', a1, 8, 8, 3), 8)], {}, { name: 'add1' })]);
    // projection block: convE(add1) + convD(relu(convC(add1))), stride 2
    const c1 = b.op('Relu', [conv('convC', add1, 12, 8, 3, { strides: [2, 2] })]);
    const d1 = conv('convD', c1, 12, 12, 3);
    const e1 = conv('convE', add1, 12, 8, 1, { strides: [2, 2] });
    const add2 = b.op('Add', [d1, e1], {}, { name: 'add2' });
    const shifted = b.op('Add', [add2, w('shift', [1, 12, 1, 1])], {}, { name: 'shift' });
    const gap = b.op('GlobalAveragePool', [b.op('Relu', [shifted])]);
    b.output(
      b.op('Gemm', [b.op('Flatten', [gap]), w('fc.w', [5, 12]), w('fc.b', [5])], { transB: 1 }, { name: 'fc' }),
      'float32',
      ['n', 5],
    );
    return makeModel(b.graph, { opset: 17 });
  }

  it('prunes residual channel groups: same channels in every member, ranked by the summed norms, consumers of the Adds rewired', async () => {
    const m = resnetLike();
    const { model, report } = pruneFilters(m, { ratio: 0.5, norm: 'l2' });
    expect(report.layers.map((l) => [l.name, l.before, l.after, l.group ?? []])).toEqual([
      ['stem', 8, 4, ['stem', 'convB']],
      ['convB', 8, 4, ['stem', 'convB']],
      ['convA', 8, 4, []],
      ['convC', 12, 6, []],
      ['convD', 12, 6, ['convD', 'convE']],
      ['convE', 12, 6, ['convD', 'convE']],
    ]);
    expect(report.skipped.map((s) => [s.name, s.reason])).toEqual([['fc', 'its channels are a graph output']]);
    // the group's removed channels are the lowest by the sum of the members' L2 norms
    const l2 = (t: Tensor) => {
      const per = t.data.length / t.dims[0]!;
      return Array.from({ length: t.dims[0]! }, (_, c) =>
        Math.hypot(...(t.data as Float32Array).subarray(c * per, (c + 1) * per)),
      );
    };
    const sum = l2(init(m, 'stem.w')).map((v, c) => v + l2(init(m, 'convB.w'))[c]!);
    const lowest = Array.from(sum.keys())
      .sort((p, q) => sum[p]! - sum[q]!)
      .slice(0, 4)
      .sort((p, q) => p - q);
    expect(report.layers[0]!.removed).toEqual(lowest);
    // and that is not what either member alone would pick
    const own = (name: string) => {
      const v = l2(init(m, name));
      return Array.from(v.keys())
        .sort((p, q) => v[p]! - v[q]!)
        .slice(0, 4)
        .sort((p, q) => p - q);
    };
    expect([own('stem.w'), own('convB.w')]).not.toEqual([lowest, lowest]);
    // shapes: members lose filters, every reader of the Adds loses input channels
    const dims = (n: string) => init(model, n).dims;
    expect([
      dims('stem.w'),
      dims('convA.w'),
      dims('convB.w'),
      dims('convC.w'),
      dims('convD.w'),
      dims('convE.w'),
    ]).toEqual([
      [4, 3, 3, 3],
      [4, 4, 3, 3],
      [4, 4, 3, 3],
      [6, 4, 3, 3],
      [6, 6, 3, 3],
      [6, 4, 1, 1],
    ]);
    expect([dims('bn0.g'), dims('bnB.mean'), dims('shift'), dims('fc.w')]).toEqual([[4], [4], [1, 6, 1, 1], [5, 6]]);
    const floats = (mm: Model) => mm.graph.initializers.reduce((s, t) => s + t.data.length, 0);
    expect(report.parametersBefore).toBe(floats(m));
    expect(report.parametersAfter).toBe(floats(model));
    const input = {
      dtype: 'float32' as const,
      dims: [2, 3, 8, 8],
      data: new Float32Array(384).map((_, i) => Math.sin(i * 0.3)),
    };
    await expectSame(maskedEquivalent(m, report), model, { x: input });
    // ratio 0 changes nothing
    const same = pruneFilters(m, { ratio: 0 });
    expect(same.report.layers).toEqual([]);
    await expectSame(m, same.model, { x: input });
  });

  it('skips a whole residual group whose shortcut is the graph input, with the reason, and prunes the rest', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['n', 4, 6, 6]);
    const w = (name: string, dims: number[]) => weight(b, name, dims, (i) => Math.sin(i * 0.7 + dims[0]!));
    const c1 = b.op('Conv', [x, w('w1', [4, 4, 3, 3])], { pads: [1, 1, 1, 1] }, { name: 'c1' });
    const add = b.op('Add', [x, b.op('Relu', [c1])], {}, { name: 'add' });
    const c2 = b.op('Relu', [b.op('Conv', [add, w('w2', [6, 4, 3, 3])], {}, { name: 'c2' })]);
    b.output(b.op('Gemm', [b.op('Flatten', [c2]), w('wg', [3, 96])], { transB: 1 }, { name: 'fc' }), 'float32', [
      'n',
      3,
    ]);
    const m = makeModel(b.graph, { opset: 17 });
    const { model, report } = pruneFilters(m, { ratio: 0.5 });
    expect(report.layers.map((l) => [l.name, l.after])).toEqual([['c2', 3]]);
    expect(report.skipped.find((s) => s.name === 'c1')?.reason).toBe(
      "graph input 'x' is added to its channels at Add 'add'",
    );
    expect(init(model, 'w1').dims).toEqual([4, 4, 3, 3]);
    expect(init(model, 'w2').dims).toEqual([3, 4, 3, 3]);
    expect(init(model, 'wg').dims).toEqual([3, 48]);
    const input = {
      dtype: 'float32' as const,
      dims: [1, 4, 6, 6],
      data: new Float32Array(144).map((_, i) => Math.cos(i)),
    };
    await expectSame(maskedEquivalent(m, report), model, { x: input });
  });

  it('skips a residual group with a non-prunable member (grouped Conv) and an Add behind a Concat', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['n', 2, 6, 6]);
    const w = (name: string, dims: number[]) => weight(b, name, dims, (i) => Math.cos(i));
    const a = b.op('Conv', [x, w('wa', [4, 2, 1, 1])], {}, { name: 'a' });
    const g2 = b.op('Conv', [x, w('wg2', [4, 1, 1, 1])], { group: 2 }, { name: 'grouped' });
    const s1 = b.op('Add', [a, g2], {}, { name: 'sum' });
    const c = b.op('Conv', [x, w('wc', [2, 2, 1, 1])], {}, { name: 'c' });
    const d = b.op('Conv', [x, w('wd', [2, 2, 1, 1])], {}, { name: 'd' });
    const e = b.op('Conv', [x, w('we', [4, 2, 1, 1])], {}, { name: 'e' });
    const s2 = b.op('Add', [b.op('Concat', [c, d], { axis: 1 }), e], {}, { name: 'sum2' });
    const head = b.op('Conv', [b.op('Concat', [s1, s2], { axis: 1 }), w('wh', [4, 8, 1, 1])], {}, { name: 'head' });
    const tail = b.op('Conv', [b.op('Relu', [head]), w('wt', [3, 4, 1, 1])], {}, { name: 'tail' });
    b.output(tail, 'float32', ['n', 3, 6, 6]);
    const { model, report } = pruneFilters(makeModel(b.graph, { opset: 17 }), { ratio: 0.5 });
    const why = Object.fromEntries(report.skipped.map((s) => [s.name, s.reason]));
    expect(why.a).toBe("the output of Conv 'grouped' (grouped/depthwise Conv) is added to its channels at Add 'sum'");
    expect(why.c).toMatch(/Add 'sum2' behind a Concat \(channel offset 0\)/);
    expect(why.d).toMatch(/Add 'sum2' behind a Concat \(channel offset 2\)/);
    expect(why.e).toMatch(/the output of Concat '.*' is added to its channels at Add 'sum2'/);
    // only the plain conv between the two Concat-fed layers loses filters
    expect(report.layers.map((l) => [l.name, l.after])).toEqual([['head', 2]]);
    expect(init(model, 'wa').dims).toEqual([4, 2, 1, 1]);
    expect(init(model, 'wt').dims).toEqual([3, 2, 1, 1]);
  });

  it('removes the same channels from a depthwise Conv behind a pruned layer (MobileNet blocks)', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['n', 2, 6, 6]);
    const w = (name: string, dims: number[]) => weight(b, name, dims, (i) => Math.sin(i * 0.71 + dims[0]!));
    const expand = b.op('Relu', [b.op('Conv', [x, w('we', [6, 2, 1, 1]), w('be', [6])])]);
    const dw = b.op('Clip', [
      b.op('Conv', [expand, w('wdw', [6, 1, 3, 3])], { group: 6, pads: [1, 1, 1, 1] }),
      b.scalar(0),
      b.scalar(6),
    ]);
    const project = b.op('Conv', [dw, w('wp', [3, 6, 1, 1])]);
    b.output(b.op('Gemm', [b.op('Flatten', [project]), w('wg', [2, 108])], { transB: 1 }), 'float32', ['n', 2]);
    const m = makeModel(b.graph, { opset: 17 });
    const { model, report } = pruneFilters(m, { ratio: 0.5 });
    expect(report.layers.map((l) => [l.name, l.before, l.after])).toEqual([
      [m.graph.nodes[0]!.name, 6, 3],
      [m.graph.nodes[4]!.name, 3, 2],
    ]);
    expect(init(model, 'wdw').dims).toEqual([3, 1, 3, 3]);
    expect(model.graph.nodes[2]!.attributes.group).toEqual({ type: 'int', value: 3 });
    const input = {
      dtype: 'float32' as const,
      dims: [2, 2, 6, 6],
      data: new Float32Array(144).map((_, i) => Math.cos(i)),
    };
    await expectSame(maskedEquivalent(m, report), model, { x: input });
  });

  it('rewires channel offsets through Concat', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['n', 2, 6, 6]);
    const w = (name: string, dims: number[]) => weight(b, name, dims, (i) => Math.cos(i * 0.37 + dims[0]!));
    const a = b.op('Relu', [b.op('Conv', [x, w('wa', [4, 2, 3, 3]), w('ba', [4])], { pads: [1, 1, 1, 1] })]);
    const c = b.op('Relu', [b.op('Conv', [x, w('wc', [6, 2, 1, 1])])]);
    const cat = b.op('Concat', [a, c], { axis: 1 });
    const d = b.op('Relu', [b.op('Conv', [cat, w('wd', [4, 10, 3, 3])])]);
    const flat = b.op('Flatten', [d], { axis: 1 });
    b.output(b.op('Gemm', [flat, w('wg', [3, 64]), w('bg', [3])], { transB: 1 }), 'float32', ['n', 3]);
    const m = makeModel(b.graph, { opset: 17 });
    const { model, report } = pruneFilters(m, { ratio: 0.5 });
    expect(report.layers.map((l) => [l.before, l.after])).toEqual([
      [4, 2],
      [6, 3],
      [4, 2],
    ]);
    expect(init(model, 'wd').dims).toEqual([2, 5, 3, 3]);
    const input = {
      dtype: 'float32' as const,
      dims: [2, 2, 6, 6],
      data: new Float32Array(144).map((_, i) => Math.sin(i)),
    };
    await expectSame(maskedEquivalent(m, report), model, { x: input });
  });
});
