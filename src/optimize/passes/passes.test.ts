import { describe, expect, it } from 'vitest';
import { GraphBuilder, cloneModel, makeModel, makeTensor } from '../../onnx/builder.ts';
import type { Model } from '../../onnx/ir.ts';
import { maxRelDiff, opCount, runModel, sampleImages, trainedFixture } from '../../../test/optimize/helpers.ts';
import { foldBatchNorm } from './batchnorm-folding.ts';
import { foldConstants } from './constant-folding.ts';
import { eliminateDeadNodes } from './dead-code.ts';
import { removeIdentities } from './identity-removal.ts';
import { optimizeGraph } from './pipeline.ts';
import { simplifyShapeOps } from './shape-simplification.ts';

/** The bar: passes leave outputs unchanged within 1e-5 (relative to max(1, |y|)). */
const PASS_TOLERANCE = 1e-5;

async function expectSameOutputs(before: Model, after: Model, batch = 4): Promise<void> {
  const feeds = { input: sampleImages(batch) };
  const a = await runModel(before, feeds);
  const b = await runModel(after, feeds);
  expect(Object.keys(b)).toEqual(Object.keys(a));
  for (const k of Object.keys(a)) expect(maxRelDiff(a[k]!, b[k]!)).toBeLessThan(PASS_TOLERANCE);
}

/** seed CNN with an Identity after the first ReLU, a Dropout (opset 13 inputs) before the last Gemm and an Identity as output. */
function withPassThroughs(m: Model): Model {
  const out = cloneModel(m);
  const g = out.graph;
  const relu = g.nodes.find((n) => n.opType === 'Relu')!;
  const reluOut = relu.outputs[0]!;
  for (const n of g.nodes) n.inputs = n.inputs.map((i) => (i === reluOut ? 'relu_identity' : i));
  g.nodes.splice(g.nodes.indexOf(relu) + 1, 0, {
    name: 'id0',
    opType: 'Identity',
    domain: '',
    inputs: [reluOut],
    outputs: ['relu_identity'],
    attributes: {},
  });
  const gemms = g.nodes.filter((n) => n.opType === 'Gemm');
  const last = gemms[gemms.length - 1]!;
  const x = last.inputs[0]!;
  g.initializers.push(makeTensor('drop_ratio', 'float32', [], [0.5]), makeTensor('drop_training', 'bool', [], [0]));
  g.nodes.splice(g.nodes.indexOf(last), 0, {
    name: 'drop',
    opType: 'Dropout',
    domain: '',
    inputs: [x, 'drop_ratio', 'drop_training'],
    outputs: ['dropped', ''],
    attributes: {},
  });
  last.inputs[0] = 'dropped';
  // logits produced by an Identity: removing it must rename the producer's output, not lose the output
  const logits = g.outputs[0]!.name;
  last.outputs = ['pre_logits'];
  g.nodes.push({
    name: 'id_out',
    opType: 'Identity',
    domain: '',
    inputs: ['pre_logits'],
    outputs: [logits],
    attributes: {},
  });
  return out;
}

describe('graph passes on the trained seed CNN fixtures', () => {
  it('folds BatchNormalization into the preceding Conv', async () => {
    const m = trainedFixture('seed_cnn_bn_fmnist');
    expect(opCount(m, 'BatchNormalization')).toBe(2);
    const folded = foldBatchNorm(m);
    expect(opCount(folded, 'BatchNormalization')).toBe(0);
    expect(folded.graph.nodes.length).toBe(m.graph.nodes.length - 2);
    // the BN parameters are gone with their nodes
    expect(folded.graph.initializers.length).toBeLessThan(m.graph.initializers.length);
    expect(opCount(m, 'BatchNormalization')).toBe(2); // pure: input untouched
    await expectSameOutputs(m, folded);
  });

  it('removes Identity and inference Dropout, keeping the graph output name', async () => {
    const m = withPassThroughs(trainedFixture('seed_cnn_fmnist'));
    const cleaned = removeIdentities(m);
    expect(opCount(cleaned, 'Identity')).toBe(0);
    expect(opCount(cleaned, 'Dropout')).toBe(0);
    expect(cleaned.graph.outputs.map((o) => o.name)).toEqual(m.graph.outputs.map((o) => o.name));
    await expectSameOutputs(m, cleaned);
  });

  it('keeps a Dropout whose training_mode is not a constant false', () => {
    const m = withPassThroughs(trainedFixture('seed_cnn_fmnist'));
    const drop = m.graph.nodes.find((n) => n.opType === 'Dropout')!;
    m.graph.inputs.push({ name: 'training', type: { kind: 'tensor', dtype: 'bool', shape: [] } });
    drop.inputs[2] = 'training';
    expect(opCount(removeIdentities(m), 'Dropout')).toBe(1);
  });

  it('turns the computed-shape flatten chain into a constant reshape', async () => {
    const m = trainedFixture('seed_cnn_view_fmnist');
    expect(opCount(m, 'Shape')).toBeGreaterThan(0);
    const simple = simplifyShapeOps(m);
    for (const op of ['Shape', 'Gather', 'Unsqueeze', 'Concat']) expect(opCount(simple, op)).toBe(0);
    const reshape = simple.graph.nodes.find((n) => n.opType === 'Reshape')!;
    const target = simple.graph.initializers.find((t) => t.name === reshape.inputs[1])!;
    expect(Array.from(target.data as BigInt64Array, Number)).toEqual([0, -1]);
    expect(simple.graph.nodes.length).toBeLessThan(m.graph.nodes.length);
    await expectSameOutputs(m, simple, 3);
    await expectSameOutputs(m, simple, 1);
  });

  it('the pipeline takes the BN+view variants to the plain op set', async () => {
    const m = trainedFixture('seed_cnn_bn_fmnist');
    const { model, passes } = await optimizeGraph(m);
    expect(passes.map((p) => p.pass)).toEqual([
      'remove-identities',
      'simplify-shapes',
      'fold-constants',
      'fold-batchnorm',
      'eliminate-dead-nodes',
    ]);
    expect(model.graph.nodes.map((n) => n.opType)).toEqual([
      'Conv',
      'Relu',
      'MaxPool',
      'Conv',
      'Relu',
      'MaxPool',
      'Flatten',
      'Gemm',
      'Relu',
      'Gemm',
    ]);
    await expectSameOutputs(m, model);
  });
});

describe('constant folding', () => {
  function constantHeavy(): Model {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['n', 4]);
    // W = Transpose(W0) * 2, computed at run time from constants
    const w0 = b.initializer('w0', 'float32', [3, 4], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const two = b.op('Constant', [], { value: makeTensor('two', 'float32', [], [2]) });
    const wt = b.op('Transpose', [w0], { perm: [1, 0] });
    const w = b.op('Mul', [wt, two]);
    const shape = b.op('Constant', [], { value: makeTensor('s', 'int64', [2], [-1, 3]) });
    const y = b.op('MatMul', [x, w]);
    const r = b.op('Reshape', [y, shape]);
    b.output(b.op('Relu', [r]), 'float32', ['n', 3]);
    return makeModel(b.graph, { opset: 17 });
  }

  it('evaluates constant subgraphs with onnxruntime and replaces them by initializers', async () => {
    const m = constantHeavy();
    const folded = await foldConstants(m);
    expect(folded.graph.nodes.map((n) => n.opType)).toEqual(['MatMul', 'Reshape', 'Relu']);
    const w = folded.graph.initializers.find((t) => t.name === folded.graph.nodes[0]!.inputs[1])!;
    expect(w.dims).toEqual([4, 3]);
    expect(Array.from(w.data as Float32Array)).toEqual([2, 10, 18, 4, 12, 20, 6, 14, 22, 8, 16, 24]);
    expect(folded.graph.initializers.some((t) => t.name === 'w0')).toBe(false); // dead input removed
    const x = { dtype: 'float32' as const, dims: [2, 4], data: Float32Array.from([1, -1, 0.5, 2, 0, 1, 2, 3]) };
    const a = await runModel(m, { x });
    const b = await runModel(folded, { x });
    expect(maxRelDiff(a[m.graph.outputs[0]!.name]!, b[m.graph.outputs[0]!.name]!)).toBeLessThan(PASS_TOLERANCE);
  });

  it('does not fold values a caller can override (initializers that are also inputs)', async () => {
    const m = constantHeavy();
    m.graph.inputs.push({ name: 'w0', type: { kind: 'tensor', dtype: 'float32', shape: [3, 4] } });
    const folded = await foldConstants(m);
    expect(opCount(folded, 'Transpose')).toBe(1);
  });

  it('leaves large expanding results as computation', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [1]);
    const shape = b.constInt64([1024, 1024]);
    const big = b.op('ConstantOfShape', [shape], { value: makeTensor('v', 'float32', [1], [1]) });
    b.output(b.op('Mul', [big, x]));
    const folded = await foldConstants(makeModel(b.graph, { opset: 17 }));
    expect(opCount(folded, 'ConstantOfShape')).toBe(1);
  });
});

describe('dead-node elimination', () => {
  it('removes nodes and initializers no output depends on', async () => {
    const m = cloneModel(trainedFixture('seed_cnn_fmnist'));
    const g = m.graph;
    g.initializers.push(makeTensor('unused_w', 'float32', [2], [1, 2]));
    g.nodes.push({
      name: 'dangling',
      opType: 'Relu',
      domain: '',
      inputs: [g.nodes[0]!.outputs[0]!],
      outputs: ['dangling_out'],
      attributes: {},
    });
    const clean = eliminateDeadNodes(m);
    expect(clean.graph.nodes.length).toBe(g.nodes.length - 1);
    expect(clean.graph.initializers.some((t) => t.name === 'unused_w')).toBe(false);
    await expectSameOutputs(m, clean);
  });
});
