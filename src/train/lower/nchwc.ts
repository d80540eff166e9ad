/**
 * Convolutions of the finished training graph in onnxruntime's blocked NCHWc layout.
 *
 * onnxruntime runs a Conv with a constant filter in NCHWc (its AVX2/AVX-512 direct-convolution
 * kernels) by reordering the filter once when the session is made. In a training graph the filter
 * is a graph input (or, for an input gradient, computed from one), so that rewrite never applies
 * and every Conv falls back to im2col + GEMM — for depthwise convolutions one tiny GEMM per channel.
 * This pass emits the NCHWc form itself: the filter reordered in the graph (Pad, Reshape,
 * Transpose: it is a permutation), the input through ReorderInput, the com.microsoft.nchwc Conv,
 * and ReorderOutput back to NCHW, so every other node is untouched.
 *
 * Filter layouts (MLAS): group 1 [O/B, C/B, kh, kw, Bc, Bo]; depthwise [O/B, kh, kw, Bo]; channel
 * counts padded with zeros to multiples of the block size B (ReorderInput pads the input the same
 * way, ReorderOutput drops the padding).
 *
 * Which convolutions: measured per layer in isolation (onnxruntime 1.30, this Xeon, 1 thread, CPU
 * time, the three reorders included): 3×3 group 1 with ≥ B input channels 1.5–2.1× faster
 * (seed CNN conv2 10.3 → 6.9 ms, its input gradient 13.4 → 6.3 ms), depthwise 3×3 1.3–1.6×
 * faster; 1×1 convolutions slower (a plain 1×1 Conv is one GEMM, the reorders cost more than the
 * kernel saves) and inputs of fewer than B channels (a first layer over 1 or 3 channels) no faster.
 * Those keep the plain Conv.
 */
import {
  GraphBuilder,
  isDefaultDomain,
  type Attribute,
  type Graph,
  type Model,
  type Node,
} from '../../onnx/browser.ts';
import { inferValueShapes, type ShapeMap } from '../shapes.ts';

export const NCHWC_DOMAIN = 'com.microsoft.nchwc';

interface ConvPlan {
  node: Node;
  channels: number;
  outChannels: number;
  kernel: number[];
  depthwise: boolean;
}

function ints(a: Attribute | undefined): number[] | undefined {
  return a && a.type === 'ints' ? [...a.value] : undefined;
}

function planConv(n: Node, shapes: ShapeMap, block: number): ConvPlan | undefined {
  if (n.opType !== 'Conv' || !isDefaultDomain(n.domain)) return undefined;
  const x = shapes.get(n.inputs[0]!);
  const w = shapes.get(n.inputs[1]!);
  if (!x || !w || x.dtype !== 'float32' || x.dims.length !== 4 || w.dims.length !== 4) return undefined;
  if (x.dynamic[1] || w.dynamic.some(Boolean)) return undefined;
  const pad = n.attributes.auto_pad;
  if (pad && !(pad.type === 'string' && pad.value === 'NOTSET')) return undefined;
  const g = n.attributes.group;
  const group = g && g.type === 'int' ? g.value : 1;
  const [o, cg, kh, kw] = w.dims as [number, number, number, number];
  const c = x.dims[1]!;
  // ReorderInput takes channel counts divisible by 4.
  if (kh * kw <= 1 || c < block || c % 4 !== 0) return undefined;
  const depthwise = group > 1 && group === c && o === c && cg === 1;
  if (group !== 1 && !depthwise) return undefined;
  return { node: n, channels: c, outChannels: o, kernel: [kh, kw], depthwise };
}

const roundUp = (v: number, b: number) => Math.ceil(v / b) * b;

/** Emit the NCHWc form of one Conv (appended to g's graph; the caller moves the nodes into place). */
function emitNchwc(g: GraphBuilder, p: ConvPlan, block: number): void {
  const n = p.node;
  const [kh, kw] = p.kernel as [number, number];
  const op = roundUp(p.outChannels, block);
  const cp = roundUp(p.channels, block);
  let w = n.inputs[1]!;
  const padO = op - p.outChannels;
  const padC = p.depthwise ? 0 : cp - p.channels;
  if (padO || padC) w = g.op('Pad', [w, g.constInt64([0, 0, 0, 0, padO, padC, 0, 0])]);
  if (p.depthwise) {
    w = g.op('Reshape', [w, g.constInt64([op / block, block, kh, kw])]);
    w = g.op('Transpose', [w], { perm: [0, 2, 3, 1] });
    w = g.op('Reshape', [w, g.constInt64([op, 1, kh, kw])]);
  } else {
    w = g.op('Reshape', [w, g.constInt64([op / block, block, cp / block, block, kh, kw])]);
    w = g.op('Transpose', [w], { perm: [0, 2, 4, 5, 3, 1] });
    w = g.op('Reshape', [w, g.constInt64([op, cp, kh, kw])]);
  }
  const inputs = [g.op('ReorderInput', [n.inputs[0]!], {}, { domain: NCHWC_DOMAIN }), w];
  const bias = n.inputs[2];
  if (bias) inputs.push(padO ? g.op('Pad', [bias, g.constInt64([0, padO])]) : bias);
  const attrs: Record<string, number | number[]> = {
    kernel_shape: [kh, kw],
    group: p.depthwise ? op : 1,
  };
  for (const k of ['strides', 'pads', 'dilations'] as const) {
    const v = ints(n.attributes[k]);
    if (v) attrs[k] = v;
  }
  const y = g.op('Conv', inputs, attrs, { domain: NCHWC_DOMAIN });
  g.op('ReorderOutput', [y], { channels: p.outChannels }, { domain: NCHWC_DOMAIN, output: n.outputs[0]! });
}

/** Does `graph` or one of its subgraphs (If branches of gradient rules) hold an NCHWc node? */
function usesNchwc(graph: Graph): boolean {
  return graph.nodes.some(
    (n) =>
      n.domain === NCHWC_DOMAIN || Object.values(n.attributes).some((a) => a.type === 'graph' && usesNchwc(a.value)),
  );
}

/** Declare the NCHWc domain in `model` when a node of the graph (e.g. a gradient rule's) uses it. */
export function importNchwcDomain(model: Model): void {
  if (usesNchwc(model.graph) && !model.opsetImports.some((o) => o.domain === NCHWC_DOMAIN))
    model.opsetImports.push({ domain: NCHWC_DOMAIN, version: 1 });
}

/**
 * Rewrite the Conv nodes of `model` (edited in place) that run faster in NCHWc with block size
 * `block` (onnxruntime's, see runtime nchwcBlockSize). Returns how many were rewritten.
 */
export function convsToNchwc(model: Model, block: number): number {
  if (block <= 1) return 0;
  let shapes: ShapeMap;
  try {
    shapes = inferValueShapes(model);
  } catch {
    return 0;
  }
  const graph = model.graph;
  const plans = graph.nodes.map((n) => planConv(n, shapes, block));
  if (!plans.some(Boolean)) return 0;
  const g = new GraphBuilder(graph);
  const nodes: Node[] = [];
  const original = [...graph.nodes];
  let count = 0;
  original.forEach((n, i) => {
    const p = plans[i];
    if (!p) {
      nodes.push(n);
      return;
    }
    const start = graph.nodes.length;
    emitNchwc(g, p, block);
    nodes.push(...graph.nodes.splice(start));
    count++;
  });
  graph.nodes = nodes;
  if (!model.opsetImports.some((o) => o.domain === NCHWC_DOMAIN))
    model.opsetImports.push({ domain: NCHWC_DOMAIN, version: 1 });
  return count;
}
