import { describe, expect, it } from 'vitest';
import { GraphBuilder, cloneModel, makeModel } from '../../onnx/builder.ts';
import { encodeModel } from '../../onnx/codec.ts';
import { loadModel } from '../../onnx/io.ts';
import type { Model, Tensor } from '../../onnx/ir.ts';
import type { TensorValue } from '../../runtime/tensor.ts';
import { fixturePath } from '../../../test/fixtures/index.ts';
import { maxRelDiff, runModel, sampleImages, trainedFixture } from '../../../test/optimize/helpers.ts';
import { polynomialSparsity, pruneMagnitude, pruningMasks, sparsityReport } from './magnitude.ts';
import { densifySparseInitializers, toSparseInitializers } from './sparse-storage.ts';
import { pruneFilters, type FilterPruneReport } from './structured.ts';

const TOLERANCE = 1e-5;

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
  it('an 80%-sparse seed CNN file is <= 0.35x and onnxruntime runs it with the same outputs', async () => {
    const dense = trainedFixture('seed_cnn_fmnist');
    const { model: pruned } = pruneMagnitude(dense, { sparsity: 0.8 });
    const { model: sparse, report } = toSparseInitializers(pruned);
    // the big weights go sparse; small layers that keep more weights under one global threshold stay
    // dense when values + indices would not save enough
    expect(report.tensors.map((t) => t.name)).toEqual(expect.arrayContaining(['net.3.weight', 'net.7.weight']));
    expect(report.tensors.find((t) => t.name === 'net.7.weight')!.chunks).toBe(4);
    const ratio = encodeModel(sparse).length / encodeModel(dense).length;
    console.log(`80% sparse seed CNN: ${(ratio * 100).toFixed(1)}% of the dense file`);
    expect(ratio).toBeLessThanOrEqual(0.35);
    const feeds = { input: sampleImages(4) };
    await expectSame(pruned, sparse, feeds);
    // the int64 layout (what the ONNX checker accepts) loads too, but is bigger
    const strict = toSparseInitializers(pruned, { layout: 'int64' }).model;
    await expectSame(pruned, strict, feeds);
    expect(encodeModel(strict).length).toBeGreaterThan(encodeModel(sparse).length);
  });

  it('densify restores the pruned dense weights exactly', () => {
    const { model: pruned } = pruneMagnitude(trainedFixture('seed_cnn_fmnist'), { sparsity: 0.8 });
    const back = densifySparseInitializers(toSparseInitializers(pruned).model);
    expect(back.graph.sparseInitializers).toEqual([]);
    expect(back.graph.nodes.map((n) => n.opType)).toEqual(pruned.graph.nodes.map((n) => n.opType));
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

/**
 * The model with the removed channels switched off instead of removed: producer filters and biases
 * zeroed (and a following BatchNorm's shift zeroed), so those channels are exactly 0 after ReLU.
 * A correctly rewired pruned model must compute the same function.
 */
function maskedEquivalent(m: Model, report: FilterPruneReport): Model {
  const out = cloneModel(m);
  const g = out.graph;
  for (const layer of report.layers) {
    const node = g.nodes.find((n) => (n.name || n.outputs[0]) === layer.name)!;
    const w = init(out, node.inputs[1]!);
    const transB = node.attributes.transB?.value === 1;
    const outAxis = node.opType === 'Conv' || transB ? 0 : 1;
    const d = w.data as Float32Array;
    const c = w.dims[outAxis]!;
    const inner = w.dims.slice(outAxis + 1).reduce((a, b) => a * b, 1);
    const outer = w.dims.slice(0, outAxis).reduce((a, b) => a * b, 1);
    for (const r of layer.removed)
      for (let o = 0; o < outer; o++) d.fill(0, (o * c + r) * inner, (o * c + r + 1) * inner);
    if (node.inputs[2]) for (const r of layer.removed) (init(out, node.inputs[2]).data as Float32Array)[r] = 0;
    const bn = g.nodes.find((n) => n.opType === 'BatchNormalization' && n.inputs[0] === node.outputs[0]);
    if (bn)
      for (const r of layer.removed) for (const k of [2, 3]) (init(out, bn.inputs[k]!).data as Float32Array)[r] = 0;
  }
  return out;
}

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

  it('skips a conv whose channels meet a residual Add and prunes the one before it', async () => {
    const m = loadModel(fixturePath('residual_block'));
    const { model, report } = pruneFilters(m, { ratio: 0.5 });
    expect(report.layers.map((l) => l.name)).toEqual(['/conv1/Conv']);
    expect(report.skipped.find((s) => s.name === '/conv2/Conv')?.reason).toMatch(/Add/);
    const x = new Float32Array(2 * 16 * 64).map((_, i) => Math.sin(i));
    await expectSame(maskedEquivalent(m, report), model, { input: { dtype: 'float32', dims: [2, 16, 8, 8], data: x } });
  });

  it('removes the same channels from a depthwise Conv behind a pruned layer (MobileNet blocks)', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['n', 2, 6, 6]);
    const w = (name: string, dims: number[]) =>
      b.initializer(
        name,
        'float32',
        dims,
        Array.from({ length: dims.reduce((p, q) => p * q, 1) }, (_, i) => Math.sin(i * 0.71 + dims[0]!)),
      );
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
    const w = (name: string, dims: number[]) =>
      b.initializer(
        name,
        'float32',
        dims,
        Array.from({ length: dims.reduce((p, q) => p * q, 1) }, (_, i) => Math.cos(i * 0.37 + dims[0]!)),
      );
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
