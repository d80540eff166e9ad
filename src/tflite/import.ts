/**
 * TFLite → ONNX: `tfliteToOnnx(bytes)` converts the first subgraph of a .tflite file (the model
 * interpreters run) into a standard ONNX model, operator by operator through ./ops/. Graph inputs
 * and outputs keep TFLite's names, shapes and element types (int8 stays int8). Operators verge
 * does not convert are listed, all at once, in one E_UNSUPPORTED error.
 */
import { GraphBuilder, makeModel, type Model } from '../onnx/browser.ts';
import { VergeError } from '../errors.ts';
import { ImportContext, onnxDtype } from './context.ts';
import { TFLITE_IMPORTERS, type TfliteImporter } from './ops/index.ts';
import { readTflite, type TfliteModel } from './read.ts';
import { BUILTIN, builtinName } from './schema.ts';

/** Opset of converted models: 17 is the newest the ONNX 1.12 checker validates (IR version 8). */
export const TFLITE_IMPORT_OPSET = 17;
export const TFLITE_IMPORT_IR_VERSION = 8;

const BY_CODE = new Map<number, TfliteImporter>(TFLITE_IMPORTERS.map((i) => [BUILTIN[i.builtin], i]));

/** Operators of the model verge cannot convert (names, each once). */
export function unsupportedOperators(model: TfliteModel): string[] {
  const names = new Set<string>();
  for (const op of model.subgraphs[0]!.operators)
    if (!BY_CODE.has(op.builtin))
      names.add(op.custom !== undefined ? `custom '${op.custom}'` : builtinName(op.builtin));
  return [...names];
}

export function tfliteToOnnx(bytes: Uint8Array, source = 'model.tflite'): Model {
  const tfl = readTflite(bytes, source);
  const unsupported = unsupportedOperators(tfl);
  if (unsupported.length)
    throw new VergeError(
      'E_UNSUPPORTED',
      `${source} uses TFLite operators verge cannot convert: ${unsupported.join(', ')}`,
    );
  const graph = tfl.subgraphs[0]!;
  const b = new GraphBuilder();
  b.graph.name = graph.name || 'tflite';
  const ctx = new ImportContext(b, tfl, graph);
  for (const i of graph.inputs) {
    const t = ctx.tensor(i);
    const dtype = onnxDtype(t);
    const name = b.input(t.name, dtype, t.shape);
    const q = t.quantization;
    ctx.define(i, q && dtype !== 'float32' ? ctx.dequantize(name, dtype, q.scale, q.zeroPoint, 0, t.name) : name);
  }
  graph.operators.forEach((op, k) => {
    try {
      BY_CODE.get(op.builtin)!.convert(ctx, op);
    } catch (e) {
      if (e instanceof VergeError) throw new VergeError(e.code, `${source}: ${builtinName(op.builtin)}: ${e.message}`);
      // The converters read what a well-formed file holds (an operator's inputs, a weight's rank):
      // one that holds less (a corrupt or hand-made file) is the file's fault, said as such.
      throw new VergeError(
        'E_MODEL_INVALID',
        `${source}: operator ${k} (${builtinName(op.builtin)}) is malformed: ${(e as Error).message}`,
        { cause: e },
      );
    }
  });
  for (const o of graph.outputs) {
    const t = ctx.tensor(o);
    const dtype = onnxDtype(t);
    const q = t.quantization;
    let v = ctx.value(o);
    if (q && dtype !== 'float32') {
      const s = b.initializer(`${t.name}_scale`, 'float32', [], q.scale);
      const zp = b.initializer(`${t.name}_zero_point`, dtype, [], q.zeroPoint);
      v = b.op('QuantizeLinear', [v, s, zp]);
    }
    b.node('Identity', [v], {}, { outputs: [b.reserve(t.name)] });
    b.output(t.name, dtype, t.shape);
  }
  return makeModel(b.graph, {
    opset: TFLITE_IMPORT_OPSET,
    irVersion: TFLITE_IMPORT_IR_VERSION,
    producerName: 'verge tflite import',
    docString: tfl.description ? `converted from TFLite (${tfl.description})` : 'converted from TFLite',
  });
}
