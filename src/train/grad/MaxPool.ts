import type { GradRule } from './rule.ts';
import { windowOf } from './window.ts';

/**
 * MaxPool: the training forward asks the pool for its argmax Indices (flat over N·C·H·W) and the
 * gradient goes to those positions: MaxUnpool (one op) when windows cannot overlap, else
 * ScatterElements with reduction=add (overlapping windows may pick the same element twice).
 * A SpaceToDepth/ArgMax/OneHot/DepthToSpace backward for 2×2/2 pools that keeps the plain forward
 * was measured on the seed CNN (onnxruntime profiler): ~3× the forward Conv time against ~1.6× for
 * pool-with-Indices + MaxUnpool, so it was removed.
 */
export const MaxPool: GradRule = {
  op: 'MaxPool',
  trainingForward: (c) => {
    const n = c.node;
    if (n.outputs[1]) {
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
