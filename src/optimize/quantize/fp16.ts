/**
 * float16 conversion: float32 initializers are stored as float16 (half the bytes) and nodes
 * compute in float16 where the target runs them in float16; elsewhere a Cast back to float32
 * keeps the node in float32 (onnxruntime constant-folds Casts of initializers at load).
 * Graph inputs and outputs stay float32 unless asked, with Casts at the boundary.
 */
import { VergeError } from '../../errors.ts';
import {
  cloneModel,
  GraphBuilder,
  numberToFloat16Bits,
  type DType,
  defaultOpset,
  type Graph,
  type Model,
  type Node,
  type Tensor,
} from '../../onnx/browser.ts';
import { countOps, inferElementTypes, modelBytes, nodeLabel, type QuantizeResult, type SkippedNode } from './common.ts';

/**
 * Ops onnxruntime-node's CPU provider runs in float16 natively on x86-64 (measured with
 * scripts in this folder's tests: a one-node float16 model, then the optimized graph checked for
 * the Casts onnxruntime inserts when it has no float16 kernel). Arithmetic (Conv, MatMul, Gemm,
 * Add, Relu, pooling, ...) has no float16 CPU kernel there, so those stay float32.
 */
export const ORT_CPU_FP16_OPS: readonly string[] = Object.freeze([
  'Reshape',
  'Flatten',
  'Concat',
  'Transpose',
  'Gather',
  'Slice',
  'Squeeze',
  'Unsqueeze',
  'Identity',
  'Clip',
  'Max',
  'Min',
  'LayerNormalization',
]);

/** Ops that are never converted: they carry shapes/indices, or their float inputs are parameters. */
const NEVER_FP16 = new Set([
  'Shape',
  'Size',
  'Range',
  'NonMaxSuppression',
  'TopK',
  'RandomNormal',
  'RandomUniform',
  'Multinomial',
]);
/** Inputs that must stay float32 whatever the node's precision (Resize roi/scales). */
const FLOAT32_PARAM_INPUTS: Record<string, number[]> = { Resize: [1, 2], Upsample: [1] };

export interface Fp16Options {
  /**
   * Which nodes compute in float16: 'cpu' (default) only those onnxruntime's CPU provider runs in
   * float16; 'all' every float node (for GPU providers); or an explicit list of op types.
   */
  compute?: 'cpu' | 'all' | readonly string[];
  /** Make graph inputs/outputs float16 too (default false: they stay float32). */
  fp16Io?: boolean;
}

function toHalf(t: Tensor, name: string): Tensor {
  const src = t.data as Float32Array | Float64Array;
  const h = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) h[i] = numberToFloat16Bits(src[i]!);
  return { name, dtype: 'float16', dims: [...t.dims], data: h, storage: 'raw' };
}

/**
 * float16 conversion. Pure.
 * Long because: one pass over the nodes deciding each value's precision, with the caches it shares
 * (casts, float16 copies of initializers) in the closure; the per-node decision is the forEach
 * body.
 */
export function convertToFloat16(model: Model, opts: Fp16Options = {}): QuantizeResult {
  const opset = defaultOpset(model) ?? 0;
  if (opset < 6)
    throw new VergeError('E_UNSUPPORTED', `float16 conversion needs ONNX opset >= 6 (Cast); this model uses ${opset}`);
  const compute = opts.compute ?? 'cpu';
  const fp16Ops = compute === 'all' ? undefined : new Set(compute === 'cpu' ? ORT_CPU_FP16_OPS : compute);
  const out = cloneModel(model);
  const g = out.graph;
  const types = inferElementTypes(out);
  const isFloat32 = (v: string | undefined) => !!v && (types.get(v) === 'float32' || types.get(v) === 'float64');
  const b = new GraphBuilder(scratch(g));
  for (const n of g.nodes) for (const v of [...n.inputs, ...n.outputs, n.name]) if (v) b.uniqueName(v);
  for (const t of g.initializers) b.uniqueName(t.name);
  for (const v of [...g.inputs, ...g.outputs, ...g.valueInfo]) b.uniqueName(v.name);

  const inits = new Map(g.initializers.map((t) => [t.name, t]));
  const graphInputs = new Set(g.inputs.map((i) => i.name));
  /** Current precision of every float value: 'h' float16, 'f' float32. */
  const precision = new Map<string, 'h' | 'f'>();
  const halfInits = new Map<string, string>(); // float32 initializer → its float16 copy
  const casts = new Map<string, string>(); // `${value}->${h|f}` → cast output
  const nodes: Node[] = [];
  const castTo = (v: string, to: 'h' | 'f'): string => {
    const key = `${v}->${to}`;
    let c = casts.get(key);
    if (!c) {
      c = b.uniqueName(`${v}_${to === 'h' ? 'fp16' : 'fp32'}`);
      nodes.push({
        name: b.uniqueName(`${c}_Cast`),
        opType: 'Cast',
        domain: '',
        inputs: [v],
        outputs: [c],
        attributes: { to: { type: 'int', value: to === 'h' ? 10 : 1 } },
      });
      casts.set(key, c);
    }
    return c;
  };
  const halfInit = (name: string): string => {
    let h = halfInits.get(name);
    if (!h) {
      h = b.uniqueName(`${name}_fp16`);
      b.graph.initializers.push(toHalf(inits.get(name)!, h));
      halfInits.set(name, h);
    }
    return h;
  };
  // graph inputs: float16 if asked, else float32
  for (const i of g.inputs) {
    if (inits.has(i.name) || !isFloat32(i.name)) continue;
    precision.set(i.name, opts.fp16Io ? 'h' : 'f');
    if (opts.fp16Io && i.type?.kind === 'tensor') i.type.dtype = 'float16';
  }

  const converted: Node[] = [];
  const keptFloat: SkippedNode[] = [];
  const float32Compute: SkippedNode[] = [];
  const weightOnly: Node[] = [];
  g.nodes.forEach((n0, idx) => {
    const n: Node = { ...n0, inputs: [...n0.inputs], outputs: [...n0.outputs] };
    const hasFloat = n.inputs.some(isFloat32) || n.outputs.some(isFloat32);
    if (!hasFloat) return void nodes.push(n);
    const floatActs = n.inputs.filter((v) => isFloat32(v) && !(inits.has(v) && !graphInputs.has(v)));
    // With a restricted op list, a node joins float16 only when its data already is float16:
    // converting an isolated Reshape would just add two Casts around it.
    const worthIt = fp16Ops === undefined || floatActs.length === 0 || floatActs.some((v) => precision.get(v) === 'h');
    const half =
      worthIt &&
      !NEVER_FP16.has(n.opType) &&
      (fp16Ops === undefined || fp16Ops.has(n.opType)) &&
      n.domain === '' &&
      !hasSubgraph(n);
    const params = FLOAT32_PARAM_INPUTS[n.opType] ?? [];
    n.inputs = n.inputs.map((v, k) => {
      if (!isFloat32(v)) return v;
      const want: 'h' | 'f' = half && !params.includes(k) ? 'h' : 'f';
      if (inits.has(v) && !graphInputs.has(v)) {
        if (params.includes(k)) return v; // parameters stay float32 as they are
        // initializers are stored in float16 either way; float32 nodes read them through a Cast
        const h = halfInit(v);
        return want === 'h' ? h : castTo(h, 'f');
      }
      const have = precision.get(v) ?? 'f';
      return have === want ? v : castTo(v, want);
    });
    if (half && n.opType === 'Cast') {
      // a Cast to float32 inside a float16 region now casts to float16
      const to = n.attributes.to;
      if (to?.type === 'int' && to.value === 1) n.attributes = { ...n.attributes, to: { type: 'int', value: 10 } };
    }
    if (half) {
      for (const [k, a] of Object.entries(n.attributes)) {
        if (a.type === 'tensor' && a.value.dtype === 'float32')
          n.attributes[k] = { ...a, value: toHalf(a.value, a.value.name) };
      }
    }
    for (const o of n.outputs) if (isFloat32(o)) precision.set(o, half ? 'h' : 'f');
    nodes.push(n);
    if (half) converted.push(n0);
    else {
      const entry = { node: nodeLabel(n0, idx), op: n0.opType, reason: fp16Reason(n0, fp16Ops) };
      float32Compute.push(entry);
      // a float32 node reading float16-stored weights still shrank; one with none is untouched
      if (n0.inputs.some((v) => halfInits.has(v))) weightOnly.push(n0);
      else keptFloat.push(entry);
    }
  });

  // graph outputs: back to float32 unless fp16 I/O was asked
  for (const o of g.outputs) {
    const p = precision.get(o.name);
    if (!p) continue;
    const want: 'h' | 'f' = opts.fp16Io ? 'h' : 'f';
    if (opts.fp16Io && o.type?.kind === 'tensor') o.type.dtype = 'float16';
    if (p === want) continue;
    // rename the producer's output so the graph output keeps its name
    const inner = b.uniqueName(`${o.name}_${p === 'h' ? 'fp16' : 'fp32'}`);
    for (const n of nodes) {
      n.outputs = n.outputs.map((v) => (v === o.name ? inner : v));
      n.inputs = n.inputs.map((v) => (v === o.name ? inner : v));
    }
    nodes.push({
      name: b.uniqueName(`${o.name}_Cast`),
      opType: 'Cast',
      domain: '',
      inputs: [inner],
      outputs: [o.name],
      attributes: { to: { type: 'int', value: want === 'h' ? 10 : 1 } },
    });
  }

  const used = new Set(nodes.flatMap((n) => n.inputs));
  g.initializers = g.initializers.filter((t) => used.has(t.name) || graphInputs.has(t.name) || !isFloat32(t.name));
  g.initializers.push(...b.graph.initializers);
  g.nodes = nodes;
  // value_info of float values may now be float16: drop float entries rather than describe them wrongly
  g.valueInfo = g.valueInfo.filter((v) => !(v.type?.kind === 'tensor' && (v.type.dtype as DType) === 'float32'));
  return {
    model: out,
    report: {
      mode: 'fp16',
      // nodes computing in float16, plus float32 nodes whose weights are now stored in float16
      quantized_nodes: converted.length + weightOnly.length,
      quantized_ops: countOps([...converted, ...weightOnly]),
      fp16_compute_nodes: converted.length,
      float32_compute: float32Compute,
      skipped: keptFloat,
      bytes_in: modelBytes(model),
      bytes_out: modelBytes(out),
      compute: Array.isArray(compute) ? 'custom' : compute,
      fp16_io: !!opts.fp16Io,
      initializers_fp16: halfInits.size,
    },
  };
}

function hasSubgraph(n: Node): boolean {
  return Object.values(n.attributes).some((a) => a.type === 'graph' || a.type === 'graphs');
}

function fp16Reason(n: Node, fp16Ops: Set<string> | undefined): string {
  if (NEVER_FP16.has(n.opType)) return `${n.opType} works on shapes/indices; kept float32`;
  if (n.domain !== '') return `custom domain '${n.domain}'`;
  if (hasSubgraph(n)) return 'has subgraphs';
  if (fp16Ops && !fp16Ops.has(n.opType))
    return `onnxruntime's CPU provider has no float16 ${n.opType} kernel; computes in float32 on float16-stored weights`;
  if (fp16Ops) return 'its input is float32 (converting it alone would only add Casts)';
  return 'kept float32';
}

function scratch(g: Graph): Graph {
  return { name: g.name, nodes: [], initializers: [], sparseInitializers: [], inputs: [], outputs: [], valueInfo: [] };
}
