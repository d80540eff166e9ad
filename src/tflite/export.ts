/**
 * ONNX → TFLite: `onnxToTflite(model)` writes a float32 ONNX model (verge-built CNNs and MLPs —
 * cnn, mlp, mobilenet-tiny, kws-dscnn; the operators of ./export-ops.ts) as a .tflite flatbuffer. 4-D image inputs become NHWC (see
 * ./export-context.ts); the symbolic batch dim is fixed (TFLite tensors have static shapes).
 * A static int8 (QDQ) model becomes an int8 TFLite model (./export-quant.ts): its quantized
 * operators run on int8 tensors with the model's scales and zero points (per channel for
 * convolutions), float inputs/outputs are QUANTIZEd/DEQUANTIZEd at the edges, and operators it left
 * float stay float. Other quantized forms (dynamic, QLinear*) and operators verge does not export
 * are refused in one E_UNSUPPORTED line naming them all.
 */
import { VergeError } from '../errors.ts';
import {
  defaultOpset,
  inferShapes,
  isDefaultDomain,
  toposort,
  type Dim,
  type Model,
  type Node,
  type Tensor,
} from '../onnx/browser.ts';
import { ExportContext } from './export-context.ts';
import { foldFloatConstants } from './export-fold.ts';
import { isQdq, readQdq, type QdqModel } from './export-quant.ts';
import { TFLITE_EXPORTERS, type TfliteExporter } from './export-ops.ts';
import { writeTflite } from './write.ts';

export interface TfliteExportOptions {
  /** The size of a symbolic batch dim (default 1). */
  batch?: number;
  /** Names the model in errors. */
  source?: string;
}

const BY_OP = new Map<string, TfliteExporter>(TFLITE_EXPORTERS.map((e) => [e.onnx, e]));
/** Operators that make a model quantized rather than float. */
const QUANTIZED_OPS = /^(QuantizeLinear|DequantizeLinear|DynamicQuantizeLinear|QLinear.*|.*Integer)$/;
/** Quantized operators other than QDQ pairs (operator-level int8: dynamic quantization, QLinear kernels). */
const OTHER_QUANTIZED_OPS = /^(DynamicQuantizeLinear|QLinear.*|.*Integer)$/;

/** ONNX operators of the model verge cannot export to TFLite (each once, `domain::op` outside ONNX's). */
export function unexportableOperators(model: Model): string[] {
  const names = new Set<string>();
  for (const n of model.graph.nodes) {
    if (!isDefaultDomain(n.domain)) names.add(`${n.domain}::${n.opType}`);
    else if (!BY_OP.has(n.opType)) names.add(n.opType);
  }
  return [...names];
}

/** Why the model is not a float32 model (undefined when it is): `ops` or non-float tensors. */
function nonFloat(model: Model, ops: RegExp): string | undefined {
  const g = model.graph;
  const quantOps = [...new Set(g.nodes.filter((n) => ops.test(n.opType)).map((n) => n.opType))];
  const types = new Set(
    g.initializers
      .filter((t) => t.dtype !== 'float32' && t.dtype !== 'int64' && t.dtype !== 'int32')
      .map((t) => t.dtype),
  );
  for (const v of [...g.inputs, ...g.outputs])
    if (v.type?.kind === 'tensor' && v.type.dtype !== 'float32' && !isTokenInput(model, v.name))
      types.add(v.type.dtype);
  const why = [...quantOps, ...[...types].map((t) => `${t} tensors`)];
  return why.length ? why.join(', ') : undefined;
}

/** An int64/int32 graph input read only as Gather indices (token ids): exported as an int32 input. */
function isTokenInput(model: Model, name: string): boolean {
  const g = model.graph;
  const v = g.inputs.find((i) => i.name === name);
  if (!v || v.type?.kind !== 'tensor' || (v.type.dtype !== 'int64' && v.type.dtype !== 'int32')) return false;
  const readers = g.nodes.filter((n) => n.inputs.includes(name));
  return readers.length > 0 && readers.every((n) => n.opType === 'Gather' && n.inputs.indexOf(name) === 1);
}

function inputShapes(model: Model, batch: number): Map<string, Dim[]> {
  const initializers = new Set(model.graph.initializers.map((t) => t.name));
  const shapes = new Map<string, Dim[]>();
  for (const v of model.graph.inputs) {
    if (initializers.has(v.name)) continue;
    const shape = v.type?.kind === 'tensor' ? v.type.shape : undefined;
    if (!shape) throw new VergeError('E_UNSUPPORTED', `input '${v.name}' has no shape; TFLite needs static shapes`);
    shapes.set(
      v.name,
      shape.map((d, i) => {
        if (typeof d === 'number') return d;
        if (i === 0) return batch;
        throw new VergeError(
          'E_UNSUPPORTED',
          `input '${v.name}' has a dynamic dim ${i} ('${d}'); TFLite needs static shapes`,
        );
      }),
    );
  }
  return shapes;
}

/** The model with its Constant nodes (tensor `value`) made initializers: TFLite has only constant tensors. */
function constantsAsInitializers(model: Model): Model {
  const g = model.graph;
  const isTensorConstant = (n: Node) =>
    n.opType === 'Constant' && isDefaultDomain(n.domain) && n.attributes.value?.type === 'tensor';
  const made = g.nodes.filter(isTensorConstant).map((n) => {
    const t = n.attributes.value!.value as Tensor;
    return { ...t, name: n.outputs[0]! };
  });
  if (made.length === 0) return model;
  const nodes = g.nodes.filter((n) => !isTensorConstant(n));
  return { ...model, graph: { ...g, nodes, initializers: [...g.initializers, ...made] } };
}

export function onnxToTflite(original: Model, opts: TfliteExportOptions = {}): Uint8Array {
  const source = opts.source ?? 'model.onnx';
  let model = constantsAsInitializers(original);
  // a static int8 (QDQ) model: its float graph, and the int8 parameters of its tensors
  let quant: Omit<QdqModel, 'model'> | undefined;
  if (isQdq(model) && !model.graph.nodes.some((n) => OTHER_QUANTIZED_OPS.test(n.opType))) {
    const q = readQdq(model, source);
    model = q.model;
    quant = { constants: q.constants, activations: q.activations };
  }
  const notFloat = nonFloat(model, QUANTIZED_OPS);
  if (notFloat)
    throw new VergeError(
      'E_UNSUPPORTED',
      `${source} is not a float32 or QDQ int8 model (${notFloat}); verge exports float32 models and static int8 (QuantizeLinear/DequantizeLinear) models to TFLite`,
    );
  const missing = unexportableOperators(model);
  if (missing.length)
    throw new VergeError(
      'E_UNSUPPORTED',
      `${source} uses ONNX operators verge cannot export to TFLite: ${missing.join(', ')}`,
    );
  const shapes = inputShapes(model, opts.batch ?? 1);
  const types = inferShapes(model, { inputShapes: shapes });
  // weights computed from initializers (verge's unrolled GRU/LSTM) become constants; in a
  // quantized model such a folded constant is quantized afresh (symmetric, per tensor)
  model = foldFloatConstants(model, types);
  const ctx = new ExportContext(model, types, quant);
  const inputs = [...shapes.keys()].map((name) =>
    ctx.defineInput(name, ctx.shape(name).length === 4, isTokenInput(model, name)),
  );
  try {
    for (const node of toposort(model.graph)) {
      const exporter = BY_OP.get(node.opType)!;
      ctx.begin(node, exporter.int8 ?? false);
      exporter.export(ctx, node);
      ctx.end();
    }
  } catch (e) {
    if (e instanceof VergeError) throw new VergeError(e.code, `${source}: ${e.message}`);
    throw e;
  }
  const outputs = model.graph.outputs.map((o) => {
    const v = ctx.value(o.name, { flattened: true });
    ctx.tensors[v.index]!.name = o.name;
    return v.index;
  });
  return writeTflite({
    name: model.graph.name || 'main',
    description: `verge export (ONNX opset ${defaultOpset(model) ?? '?'}${model.producerName ? `, ${model.producerName}` : ''})`,
    tensors: ctx.tensors,
    inputs,
    outputs,
    operators: ctx.operators,
  });
}
