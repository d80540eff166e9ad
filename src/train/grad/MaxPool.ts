import type { GradContext, GradRule, NodeView } from './rule.ts';
import { windowOf, type Window } from './window.ts';

/**
 * Windows that tile the input without overlap or padding (kernel = stride, no dilation or pads, no
 * partial window at the end: rows past the last window are dropped): the pool's gradient can then
 * be computed from its plain output, without the argmax Indices. Decided from the attributes and
 * the input's shape only (the training forward may have renamed the output: commuteReluMaxPool).
 */
function tilingWindow(c: NodeView): Window | undefined {
  if (c.formulations.maxPool !== 'mask') return undefined;
  const kernel = c.attrInts('kernel_shape')!;
  const r = kernel.length;
  const strides = c.attrInts('strides') ?? new Array<number>(r).fill(1);
  const dilations = c.attrInts('dilations') ?? new Array<number>(r).fill(1);
  const pads = c.attrInts('pads') ?? new Array<number>(2 * r).fill(0);
  const autoPad = c.attrString('auto_pad', 'NOTSET');
  const sx = c.shape(c.input(0));
  const inSize = sx.dims.slice(2);
  if (
    r > 3 ||
    sx.dynamic.slice(2).some(Boolean) ||
    (autoPad !== 'NOTSET' && autoPad !== 'VALID') ||
    (autoPad === 'NOTSET' && pads.some((p) => p !== 0)) ||
    kernel.some((k, i) => k !== strides[i] || (k > 1 && dilations[i] !== 1))
  )
    return undefined;
  const ceil = c.attrInt('ceil_mode', 0) === 1;
  if (ceil && inSize.some((n, i) => n % kernel[i]! !== 0)) return undefined;
  const outSize = inSize.map((n, i) => Math.floor(n / kernel[i]!));
  if (outSize.some((o) => o === 0)) return undefined;
  return {
    kernel,
    strides,
    dilations: new Array<number>(r).fill(1),
    pads: new Array<number>(2 * r).fill(0),
    inSize,
    outSize,
  };
}

/**
 * Gradient of a tiling max-pool from its output y (formulation maxPool 'mask'): x is viewed as
 * [N, C, o₁, k₁, o₂, k₂, …] (each window its own axes), the window elements equal to y get
 * priorities K, K−1, …, 1 in row-major window order (0 elsewhere), a MaxPool of those picks the
 * first maximum of each window, and dY goes there. That is PyTorch's rule (`val > maxval` scanning
 * the window row by row: the FIRST of tied maxima takes the gradient) and onnxruntime's Indices;
 * ties are common (a flat image region gives equal conv outputs). NaN inputs: no element equals a
 * NaN maximum, so such a window passes no gradient (PyTorch's goes to the NaN).
 * Not the default: slower than the Indices pool + MaxUnpool on onnxruntime (see formulations.ts).
 */
function maskGrad(c: GradContext, w: Window): string {
  const x = c.input(0);
  const r = w.kernel.length;
  const dtype = c.dtype(x);
  const crop = w.outSize.map((o, i) => o * w.kernel[i]!);
  const cropped = crop.some((s, i) => s !== w.inSize[i]);
  const spatial = Array.from({ length: r }, (_, i) => i + 2);
  const xc = cropped ? c.op('Slice', [x, c.ints(crop.map(() => 0)), c.ints(crop), c.ints(spatial)]) : x;
  // 0 copies N and C from the input (the batch may be symbolic).
  const split = c.ints([0, 0, ...w.outSize.flatMap((o, i) => [o, w.kernel[i]!])]);
  const perWindow = c.ints([0, 0, ...w.outSize.flatMap((o) => [o, 1])]);
  const xr = c.op('Reshape', [xc, split]);
  const yr = c.op('Reshape', [c.output(0), perWindow]);
  const K = w.kernel.reduce((a, b) => a * b, 1);
  const priorityDims = [1, 1, ...w.kernel.flatMap((k) => [1, k])];
  const priority = c.g.initializer(
    'maxpool_first',
    dtype,
    priorityDims,
    Array.from({ length: K }, (_, i) => K - i),
  );
  const zero = c.g.scalar(0, dtype, 'grad_c');
  const score = c.op('Where', [c.op('Equal', [xr, yr]), priority, zero]);
  const flat = c.ints([0, 0, ...crop]);
  const first = c.op('MaxPool', [c.op('Reshape', [score, flat])], { kernel_shape: w.kernel, strides: w.kernel });
  const mask = c.op('Equal', [score, c.op('Reshape', [first, perWindow])]);
  const dx = c.op('Reshape', [c.op('Where', [mask, c.op('Reshape', [c.dy(), perWindow]), zero]), flat]);
  if (!cropped) return dx;
  const pads = [0, 0, ...crop.map(() => 0), 0, 0, ...crop.map((s, i) => w.inSize[i]! - s)];
  return c.op('Pad', [dx, c.ints(pads)]);
}

/**
 * MaxPool: the training forward asks the pool for its argmax Indices (flat over N·C·H·W) and the
 * gradient goes to those positions: MaxUnpool (one op) when windows cannot overlap, else
 * ScatterElements with reduction=add (overlapping windows may pick the same element twice).
 * Tiling pools under formulation maxPool 'mask' keep the plain forward instead (maskGrad).
 * A SpaceToDepth/ArgMax/OneHot/DepthToSpace backward for 2×2/2 pools that keeps the plain forward
 * was measured on the seed CNN (onnxruntime profiler): ~3× the forward Conv time against ~1.6× for
 * pool-with-Indices + MaxUnpool, so it was removed.
 */
export const MaxPool: GradRule = {
  op: 'MaxPool',
  trainingForward: (c) => {
    const n = c.node;
    if (n.outputs[1] || tilingWindow(c)) {
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
    if (!indices) {
      const tiling = tilingWindow(c);
      if (tiling) return [maskGrad(c, tiling)];
      c.fail('internal: MaxPool indices missing from the training forward');
    }
    if (c.attrInt('storage_order', 0) !== 0) c.fail('storage_order=1 is not supported');
    const kernel = c.attrInts('kernel_shape')!;
    const w = windowOf(c, x, c.output(0), kernel);
    const overlapping = kernel.some((k, i) => k > w.strides[i]! || (w.dilations[i]! > 1 && k > 1));
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
