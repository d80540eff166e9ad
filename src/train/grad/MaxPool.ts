import { isFloat } from '../../onnx/browser.ts';
import type { GradContext, GradRule, NodeView } from './rule.ts';
import { windowOf, type Window } from './window.ts';

/**
 * Windows that tile the input without overlap or padding (kernel = stride, no dilation or pads, no
 * partial window at the end: rows past the last window are dropped): the pool's gradient can then
 * be computed from its plain output, without the argmax Indices (formulations 'mask', and
 * 'space-to-depth' for square 2-D windows). Decided from the attributes and the input's shape only
 * (the training forward may have renamed the output: commuteReluMaxPool).
 */
function tilingWindow(c: NodeView): Window | undefined {
  const form = c.formulations.maxPool;
  if (form !== 'mask' && form !== 'space-to-depth') return undefined;
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
  if (form === 'space-to-depth' && (r !== 2 || kernel[0] !== kernel[1] || !isFloat(sx.dtype))) return undefined;
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
 * Gradient of a tiling 2-D max-pool with a square k×k window from its output y (formulation maxPool
 * 'space-to-depth'): SpaceToDepth puts window element (i, j) of every window in channel block
 * i·k + j, so x reads as [N, K, C·Ho·Wo] (K = k² offsets) and y as [N, 1, C·Ho·Wo] — every
 * comparison broadcasts over a long contiguous run, which onnxruntime's element-wise kernels
 * vectorize (the 'mask' form's 6-D view broadcasts runs of k elements). Offsets equal to y score
 * K − (i·k + j) (0 elsewhere), ReduceMax over the offsets picks the FIRST maximum in row-major order
 * (PyTorch's rule, ties included), dY goes to the offset whose score that is, and DepthToSpace (DCR,
 * SpaceToDepth's inverse) puts it back. A window whose maximum is NaN passes no gradient.
 */
function depthGrad(c: GradContext, w: Window): string {
  const x = c.input(0);
  const dtype = c.dtype(x);
  const k = w.kernel[0]!;
  const K = k * k;
  const crop = w.outSize.map((o) => o * k);
  const cropped = crop.some((s, i) => s !== w.inSize[i]);
  const xc = cropped ? c.op('Slice', [x, c.ints([0, 0]), c.ints(crop), c.ints([2, 3])]) : x;
  // 0 copies N from the input (the batch may be symbolic).
  const offsets = c.op('Reshape', [c.op('SpaceToDepth', [xc], { blocksize: k }), c.ints([0, K, -1])]);
  const perWindow = c.ints([0, 1, -1]);
  const priority = c.g.initializer(
    'maxpool_first',
    dtype,
    [1, K, 1],
    Array.from({ length: K }, (_, i) => K - i),
  );
  const zero = c.g.scalar(0, dtype, 'grad_c');
  const score = c.op('Where', [c.op('Equal', [offsets, c.op('Reshape', [c.output(0), perWindow])]), priority, zero]);
  const first =
    c.opset >= 18
      ? c.op('ReduceMax', [score, c.ints([1])], { keepdims: 1 })
      : c.op('ReduceMax', [score], { axes: [1], keepdims: 1 });
  const dxs = c.op('Where', [c.op('Equal', [first, priority]), c.op('Reshape', [c.dy(), perWindow]), zero]);
  const [ho, wo] = w.outSize as [number, number];
  const dx = c.op('DepthToSpace', [c.op('Reshape', [dxs, c.ints([0, -1, ho, wo])])], { blocksize: k, mode: 'DCR' });
  if (!cropped) return dx;
  return c.op('Pad', [dx, c.ints([0, 0, 0, 0, 0, 0, w.inSize[0]! - crop[0]!, w.inSize[1]! - crop[1]!])]);
}

/**
 * Pools whose gradient formulation maxPool 'slices' computes (slicesGrad): 2-D float, one stride for both
 * axes and no larger than the kernel, no dilation, static spatial sizes, Indices not asked for by
 * the model. Decided from the attributes and the input's shape (see tilingWindow).
 */
function slicesPool(c: NodeView): boolean {
  if (c.formulations.maxPool !== 'slices' || c.output(1)) return false;
  const kernel = c.attrInts('kernel_shape')!;
  const strides = c.attrInts('strides') ?? [1, 1];
  const dilations = c.attrInts('dilations') ?? [1, 1];
  const sx = c.shape(c.input(0));
  return (
    kernel.length === 2 &&
    isFloat(sx.dtype) &&
    !sx.dynamic.slice(2).some(Boolean) &&
    strides[0] === strides[1] &&
    kernel.every((k) => k >= strides[0]!) &&
    dilations.every((d) => d === 1)
  );
}

/**
 * Gradient of a 2-D max-pool from its plain output y (formulation maxPool 'slices'; any kernel,
 * pads and ceil_mode, overlapping windows too), with pool-sized operands only:
 * - window offset (i, j) is the strided slice x_ij [N, C, Ho, Wo] of x (padded with −∞, which never
 *   equals a maximum); in row-major offset order, g_ij = Where(x_ij = y, r, 0) and r −= g_ij, the
 *   last offset taking the rest, so the FIRST maximum of each window gets dY — PyTorch's rule
 *   (`val > maxval` scanning row by row), ties included; a window whose maximum is NaN passes its
 *   gradient to its last element;
 * - dX = Σ g_ij placed at (s·h + i, s·w + j): the offsets with the same residues (i mod s, j mod s)
 *   land on the same sub-grid, where they are summed shifted by (⌊i/s⌋, ⌊j/s⌋) (Pad + Sum; nothing
 *   to sum when windows tile); the s² sub-grids, Concat'ed in DCR order, interleave by one
 *   DepthToSpace; then the pads are cropped (Slice) and rows no window reached get zeros (Pad).
 * Replaces the Indices pool (onnxruntime's scalar kernel) + MaxUnpool / ScatterElements.
 */
function slicesGrad(c: GradContext, w: Window): string {
  const x = c.input(0);
  const y = c.output(0);
  const dtype = c.dtype(x);
  const [kh, kw] = w.kernel as [number, number];
  const s = w.strides[0]!;
  const [h, wd] = w.inSize as [number, number];
  const [ho, wo] = w.outSize as [number, number];
  const [pt, pl] = w.pads as [number, number];
  // x padded with −∞ over every window (pads, and ceil_mode's partial windows).
  const padB = Math.max(0, (ho - 1) * s + kh - h - pt);
  const padR = Math.max(0, (wo - 1) * s + kw - wd - pl);
  const xp =
    pt || pl || padB || padR
      ? c.op('Pad', [x, c.ints([0, 0, pt, pl, 0, 0, padB, padR]), c.g.scalar(-Infinity, dtype, 'grad_c')])
      : x;
  const zero = c.g.scalar(0, dtype, 'grad_c');
  const axes = c.ints([2, 3]);
  const steps = c.ints([s, s]);
  const g = new Map<string, string>();
  let rest = c.dy();
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++) {
      if (i === kh - 1 && j === kw - 1) {
        g.set(`${i},${j}`, rest);
        continue;
      }
      const xk = c.op('Slice', [xp, c.ints([i, j]), c.ints([i + (ho - 1) * s + 1, j + (wo - 1) * s + 1]), axes, steps]);
      const gk = c.op('Where', [c.op('Equal', [xk, y]), rest, zero]);
      g.set(`${i},${j}`, gk);
      rest = c.op('Sub', [rest, gk]);
    }
  // Sub-grid (a, b) holds rows s·u + a, columns s·v + b of the padded canvas, u < Ho + U, v < Wo + V.
  const [U, V] = [Math.ceil(kh / s) - 1, Math.ceil(kw / s) - 1];
  const grids: string[] = [];
  for (let a = 0; a < s; a++)
    for (let b = 0; b < s; b++) {
      const terms: string[] = [];
      for (let i = a; i < kh; i += s)
        for (let j = b; j < kw; j += s) {
          const [u, v] = [(i - a) / s, (j - b) / s];
          const gij = g.get(`${i},${j}`)!;
          terms.push(U || V ? c.op('Pad', [gij, c.ints([0, 0, u, v, 0, 0, U - u, V - v])]) : gij);
        }
      grids.push(terms.length === 1 ? terms[0]! : c.op('Sum', terms));
    }
  let dx =
    s === 1 ? grids[0]! : c.op('DepthToSpace', [c.op('Concat', grids, { axis: 1 })], { blocksize: s, mode: 'DCR' });
  // Canvas rows s·(Ho + U) from padded row 0: keep [pt, pt + H), zeros where the canvas ends early.
  const [ch, cw] = [s * (ho + U), s * (wo + V)];
  const [endH, endW] = [Math.min(pt + h, ch), Math.min(pl + wd, cw)];
  if (pt || pl || endH < ch || endW < cw) dx = c.op('Slice', [dx, c.ints([pt, pl]), c.ints([endH, endW]), axes]);
  if (pt + h > ch || pl + wd > cw)
    dx = c.op('Pad', [dx, c.ints([0, 0, 0, 0, 0, 0, Math.max(0, pt + h - ch), Math.max(0, pl + wd - cw)])]);
  return dx;
}

/**
 * MaxPool: the training forward asks the pool for its argmax Indices (flat over N·C·H·W) and the
 * gradient goes to those positions: MaxUnpool (one op) when windows cannot overlap, else
 * ScatterElements with reduction=add (overlapping windows may pick the same element twice).
 * Under formulation maxPool 'slices' (2-D pools, see slicesPool), 'mask' (tiling pools) or
 * 'space-to-depth' (tiling square 2-D pools) the forward stays the plain pool instead (slicesGrad,
 * maskGrad, depthGrad).
 * A SpaceToDepth/ArgMax/OneHot/DepthToSpace backward for 2×2/2 pools that keeps the plain forward
 * was measured on the seed CNN (onnxruntime profiler): ~3× the forward Conv time against ~1.6× for
 * pool-with-Indices + MaxUnpool, so it was removed.
 */
export const MaxPool: GradRule = {
  op: 'MaxPool',
  trainingForward: (c) => {
    const n = c.node;
    if (n.outputs[1] || tilingWindow(c) || slicesPool(c)) {
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
      if (slicesPool(c)) return [slicesGrad(c, windowOf(c, x, c.output(0), c.attrInts('kernel_shape')!))];
      if (tiling) return [c.formulations.maxPool === 'space-to-depth' ? depthGrad(c, tiling) : maskGrad(c, tiling)];
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
