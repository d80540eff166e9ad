import type { GradRule, NodeView } from './rule.ts';
import { formulations } from './formulations.ts';
import { windowOf } from './window.ts';

/**
 * MaxPool. Two formulations:
 * - default: the training forward asks the pool for its argmax Indices (flat over N·C·H·W) and the
 *   gradient goes to those positions: MaxUnpool (one op) when windows cannot overlap, else
 *   ScatterElements with reduction=add (overlapping windows may pick the same element twice).
 * - VERGE_MAXPOOL_GRAD=space-to-depth, for 2×2 windows with stride 2: the
 *   forward stays the plain (fast) MaxPool; the backward regroups X with SpaceToDepth so each
 *   window's 4 values lie on one axis, takes ArgMax there (first maximum, as PyTorch breaks ties),
 *   routes dY with OneHot·dY and puts it back with DepthToSpace.
 * Measured on the seed CNN (onnxruntime profiler, bench/train-vs-pytorch --profile): the
 * space-to-depth backward (SpaceToDepth + ArgMax + OneHot + Mul + DepthToSpace) cost ~3× the
 * forward Conv time, pool-with-Indices + MaxUnpool ~1.6×; so Indices is the default.
 */

function isPlain2x2(c: NodeView): boolean {
  const k = c.attrInts('kernel_shape');
  const s = c.attrInts('strides');
  const pads = c.attrInts('pads') ?? [0, 0, 0, 0];
  const d = c.attrInts('dilations') ?? [1, 1];
  const autoPad = c.attrString('auto_pad', 'NOTSET');
  return (
    formulations.maxPool === 'space-to-depth' &&
    c.rank(c.input(0)) === 4 &&
    k?.join() === '2,2' &&
    s?.join() === '2,2' &&
    pads.every((p) => p === 0) &&
    d.every((v) => v === 1) &&
    (autoPad === 'NOTSET' || autoPad === 'VALID') &&
    c.attrInt('ceil_mode', 0) === 0 &&
    c.attrInt('storage_order', 0) === 0
  );
}

export const MaxPool: GradRule = {
  op: 'MaxPool',
  trainingForward: (c) => {
    const n = c.node;
    if (n.outputs[1] || isPlain2x2(c)) {
      c.g.graph.nodes.push(n);
      return;
    }
    c.g.node('MaxPool', [n.inputs[0]!], n.attributes as never, {
      outputs: [n.outputs[0]!, c.g.uniqueName(`${n.outputs[0]}_argmax`)],
      name: n.name,
    });
  },
  grad: (c) => {
    const x = c.input(0);
    if (!c.output(1) && isPlain2x2(c)) return [spaceToDepthGrad(c, x)];
    const indices = c.output(1);
    if (!indices) c.fail('internal: MaxPool indices missing from the training forward');
    if (c.attrInt('storage_order', 0) !== 0) c.fail('storage_order=1 is not supported');
    const kernel = c.attrInts('kernel_shape')!;
    const w = windowOf(c, x, c.output(0), kernel);
    const overlapping = w.kernel.some((k, i) => k > w.strides[i]! || (w.dilations[i]! > 1 && k > 1));
    if (!overlapping)
      return [
        c.op('MaxUnpool', [c.dy(), indices, c.shapeOf(x)], { kernel_shape: kernel, strides: w.strides, pads: w.pads }),
      ];
    if (c.opset < 16) c.fail('overlapping max-pool windows need opset 16 (ScatterElements reduction=add)');
    const flat = c.ints([-1]);
    const zeros = c.op('Reshape', [c.zerosLike(x), flat]);
    const scattered = c.op(
      'ScatterElements',
      [zeros, c.op('Reshape', [indices, flat]), c.op('Reshape', [c.dy(), flat])],
      { axis: 0, reduction: 'add' },
    );
    return [c.reshapeLike(scattered, x)];
  },
};

function spaceToDepthGrad(c: NodeView & { dy(i?: number): string }, x: string): string {
  const sx = c.shape(x);
  if (sx.dynamic[1] || sx.dynamic[2] || sx.dynamic[3]) c.fail('channel and spatial sizes must not vary with the batch');
  const [ch, h, w] = [sx.dims[1]!, sx.dims[2]!, sx.dims[3]!];
  const [ho, wo] = [Math.floor(h / 2), Math.floor(w / 2)];
  let xe = x;
  // Odd sizes: the last row/column is never in a window; crop it and pad the gradient back.
  if (h % 2 || w % 2) xe = c.op('Slice', [x, c.ints([0, 0]), c.ints([2 * ho, 2 * wo]), c.ints([2, 3])]);
  const windows = c.op('Reshape', [c.op('SpaceToDepth', [xe], { blocksize: 2 }), c.ints([-1, 4, ch, ho, wo])]);
  const first = c.op('ArgMax', [windows], { axis: 1, keepdims: 0 });
  const onehot = c.op(
    'OneHot',
    [first, c.g.scalar(4, 'int64', 'grad_depth'), c.g.constFloat([0, 1], [2], 'grad_onehot', c.floatType)],
    { axis: 1 },
  );
  const routed = c.op('Mul', [onehot, c.op('Unsqueeze', [c.dy(), c.ints([1])])]);
  let dx = c.op('DepthToSpace', [c.op('Reshape', [routed, c.ints([-1, 4 * ch, ho, wo])])], {
    blocksize: 2,
    mode: 'DCR',
  });
  if (h % 2 || w % 2) dx = c.op('Pad', [dx, c.ints([0, 0, 0, 0, 0, 0, h % 2, w % 2])]);
  return dx;
}
