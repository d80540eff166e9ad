/**
 * Convolutions in onnxruntime's NCHWc layout (nchwc.ts): which convs are rewritten, and a training
 * step with them equals the plain-NCHW step (channel counts that need block padding, a strided
 * depthwise conv, a padded group-1 conv whose input gradient is a flipped Conv).
 */
import { describe, expect, test } from 'vitest';
import { rng } from '../../data/dataset.ts';
import { GraphBuilder, makeModel } from '../../onnx/builder.ts';
import type { Graph, Model } from '../../onnx/ir.ts';
import { nchwcBlockSize } from '../../runtime/nchwc.ts';
import type { Formulations } from '../grad/formulations.ts';
import { TrainingSession } from '../session.ts';
import { buildTrainingGraph } from '../training-graph.ts';
import { NCHWC_DOMAIN, convsToNchwc } from './nchwc.ts';

/**
 * [N, 4, 10, 10] → 3×3 conv to 24 → depthwise 3×3 stride 2 → 3×3 conv to 20 (stride 2 when
 * `strided`) → 1×1 conv to 16 → pool → Gemm.
 */
function convNet(strided = false): Model {
  const r = rng(3);
  const w = (dims: number[]) => Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => (r() - 0.5) * 0.4);
  const g = new GraphBuilder();
  g.input('x', 'float32', ['batch', 4, 10, 10]);
  const conv = (x: string, name: string, dims: number[], attrs: Record<string, number | number[]>) =>
    g.op('Relu', [
      g.op(
        'Conv',
        [
          x,
          g.initializer(`${name}.w`, 'float32', dims, w(dims)),
          g.initializer(`${name}.b`, 'float32', [dims[0]!], w([dims[0]!])),
        ],
        attrs,
      ),
    ]);
  let h = conv('x', 'c1', [24, 4, 3, 3], { pads: [1, 1, 1, 1] });
  h = conv(h, 'dw', [24, 1, 3, 3], { pads: [1, 1, 1, 1], strides: [2, 2], group: 24 });
  h = conv(h, 'c2', [20, 24, 3, 3], { pads: [1, 1, 1, 1], ...(strided ? { strides: [2, 2] } : {}) });
  h = conv(h, 'pw', [16, 20, 1, 1], {});
  h = g.op('Flatten', [g.op('GlobalAveragePool', [h])]);
  const y = g.op('Gemm', [
    h,
    g.initializer('fc.w', 'float32', [16, 3], w([16, 3])),
    g.initializer('fc.b', 'float32', [3], w([3])),
  ]);
  g.output(y, 'float32', ['batch', 3]);
  return makeModel(g.graph, { opset: 17 });
}

/** NCHWc Conv nodes of `graph` and its subgraphs; an If counts its then branch. */
function nchwcConvs(graph: Graph): number {
  let count = 0;
  for (const n of graph.nodes) {
    if (n.domain === NCHWC_DOMAIN && n.opType === 'Conv') count++;
    const then = n.attributes.then_branch;
    if (then?.type === 'graph') count += nchwcConvs(then.value);
  }
  return count;
}

/** convNet's training sessions (Adam, 1 thread), one per formulation choice. */
function adamSessions(choices: Partial<Formulations>[], strided = false): Promise<TrainingSession[]> {
  return Promise.all(
    choices.map((formulations) =>
      TrainingSession.create(convNet(strided), {
        loss: 'cross-entropy',
        optimizer: { kind: 'adam', lr: 0.01 },
        threads: 1,
        formulations,
      }),
    ),
  );
}

describe('convolutions in NCHWc', () => {
  test('rewrites 3×3 group-1 convs with ≥ block input channels and depthwise convs, nothing else', async () => {
    const graph = await buildTrainingGraph(convNet(), {
      loss: 'cross-entropy',
      optimizer: { kind: 'sgd' },
      formulations: { convLayout: 'nchwc' },
    });
    const convs = (m: Model) => m.graph.nodes.filter((n) => n.opType === 'Conv');
    const before = convs(graph.model).length;
    const count = convsToNchwc(graph.model, 16);
    const blocked = graph.model.graph.nodes.filter((n) => n.domain === NCHWC_DOMAIN && n.opType === 'Conv');
    // forward: dw (24 channels), c2 (24 in); c2's input gradient (a flipped Conv over dY, 20 in).
    // Not: c1 (4 input channels), pw (1×1) and its input gradient (1×1), dw's input gradient
    // (strided: a ConvTranspose).
    expect(count).toBe(3);
    expect(blocked).toHaveLength(3);
    expect(convs(graph.model).length).toBe(before);
    expect(blocked.map((n) => n.attributes.group)).toContainEqual({ type: 'int', value: 32 });
    expect(graph.model.opsetImports).toContainEqual({ domain: NCHWC_DOMAIN, version: 1 });
    expect(convsToNchwc(graph.model, 1)).toBe(0);
  });

  test('a training step in NCHWc equals the plain step', async () => {
    const block = await nchwcBlockSize();
    const r = rng(5);
    const x = {
      x: {
        dtype: 'float32' as const,
        dims: [6, 4, 10, 10],
        data: Float32Array.from({ length: 2400 }, () => r() - 0.5),
      },
    };
    const y = { dtype: 'int32' as const, dims: [6], data: Int32Array.from([0, 1, 2, 0, 1, 2]) };
    const sessions = await adamSessions([{ convLayout: 'nchwc' }, { convLayout: 'nchw' }]);
    const [a, b] = sessions as [TrainingSession, TrainingSession];
    const blocked = a.graph.model.graph.nodes.filter((n) => n.domain === NCHWC_DOMAIN).length;
    // Where this onnxruntime has NCHWc kernels (x86 with AVX2) the graph uses them; elsewhere it is plain.
    if (block > 1) expect(blocked).toBeGreaterThan(0);
    else expect(blocked).toBe(0);
    expect(b.graph.model.graph.nodes.some((n) => n.domain === NCHWC_DOMAIN)).toBe(false);
    for (let i = 0; i < 3; i++) {
      const [la, lb] = [await a.step(x, y), await b.step(x, y)];
      expect(Math.abs(la.loss - lb.loss)).toBeLessThan(1e-5);
    }
    let maxDiff = 0;
    let maxMove = 0;
    const init = new Map(convNet().graph.initializers.map((t) => [t.name, t.data as Float32Array]));
    for (const p of a.parameterNames) {
      const [pa, pb, p0] = [a.tensor(p).data as Float32Array, b.tensor(p).data as Float32Array, init.get(p)!];
      for (let i = 0; i < pa.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(pa[i]! - pb[i]!));
        maxMove = Math.max(maxMove, Math.abs(pa[i]! - p0[i]!));
      }
    }
    expect(maxMove).toBeGreaterThan(0.01);
    expect(maxDiff).toBeLessThan(1e-5);
    await Promise.all(sessions.map((s) => s.release()));
  });

  // Weight gradients as NCHWc convolutions, each against the form it replaces, with how many
  // weight gradients move to NCHWc: c1 and c2 (3×3, group 1, stride 1); with c2 strided (3×3
  // outputs, so batch-wide GEMMs turned off), c1 and c2 under 'nchwc-strided'; the depthwise conv's
  // under 'nchwc-stacked'.
  test.each([
    ['convWeight nchwc-conv', { convWeight: 'nchwc-conv' }, { convWeight: 'patches' }, false, 2],
    [
      'convWeight nchwc-strided (strided c2, not batch-wide)',
      { convWeight: 'nchwc-strided', batchedConv: 'off' },
      { convWeight: 'patches', batchedConv: 'off' },
      true,
      2,
    ],
    [
      'depthwiseWeight nchwc-stacked',
      { depthwiseWeight: 'nchwc-stacked' },
      { depthwiseWeight: 'grouped-conv' },
      false,
      1,
    ],
  ] as [string, Partial<Formulations>, Partial<Formulations>, boolean, number][])(
    'weight gradients as NCHWc convolutions (%s): steps equal the plain steps at any batch',
    async (_name, choice, plain, strided, moved) => {
      const block = await nchwcBlockSize();
      const r = rng(9);
      const sessions = await adamSessions([choice, plain], strided);
      const [a, b] = sessions as [TrainingSession, TrainingSession];
      // Counted in If branches too (a symbolic batch is padded to the block only when it must be).
      const weightConvs = nchwcConvs(a.graph.model.graph);
      const plainConvs = nchwcConvs(b.graph.model.graph);
      // Where the runtime has no NCHWc kernels the graph keeps the plain forms.
      expect(weightConvs - plainConvs).toBe(block > 1 ? moved : 0);
      // Batches of 6, 16 and 17 images: the batch padded to the block with zero images, or not at all.
      for (const n of [6, 16, 17]) {
        const x = {
          x: {
            dtype: 'float32' as const,
            dims: [n, 4, 10, 10],
            data: Float32Array.from({ length: n * 400 }, () => r() - 0.5),
          },
        };
        const y = { dtype: 'int32' as const, dims: [n], data: Int32Array.from({ length: n }, (_, i) => i % 3) };
        const [la, lb] = [await a.step(x, y), await b.step(x, y)];
        expect(Math.abs(la.loss - lb.loss)).toBeLessThan(1e-5);
      }
      let maxDiff = 0;
      for (const p of a.parameterNames) {
        const [pa, pb] = [a.tensor(p).data as Float32Array, b.tensor(p).data as Float32Array];
        for (let i = 0; i < pa.length; i++) maxDiff = Math.max(maxDiff, Math.abs(pa[i]! - pb[i]!));
      }
      expect(maxDiff).toBeLessThan(1e-5);
      await Promise.all(sessions.map((s) => s.release()));
    },
  );
});
