/**
 * `verge convert <in> --out <out.onnx>`: re-serialize an ONNX model through the IR (lossless), or
 * convert a TensorFlow Lite model (.tflite) to ONNX. The output is written atomically.
 */
import { readBytes, loadModel, saveModel } from '../../onnx/index.ts';
import { isTflite, tfliteToOnnx } from '../../tflite/index.ts';
import { basename } from 'node:path';
import { emit } from '../output.ts';

export default function convert(input: string, opts: { out: string; json?: boolean }): void {
  const bytes = readBytes(input);
  const tflite = isTflite(bytes);
  const model = tflite ? tfliteToOnnx(bytes, basename(input)) : loadModel(input);
  const bytesOut = saveModel(model, opts.out);
  const ops: Record<string, number> = {};
  for (const n of model.graph.nodes) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
  emit(
    opts,
    {
      in: input,
      out: opts.out,
      from: tflite ? 'tflite' : 'onnx',
      bytes_in: bytes.length,
      bytes_out: bytesOut,
      bytes: bytesOut,
      ops,
    },
    () =>
      `wrote ${opts.out}: ${bytesOut.toLocaleString('en-US')} bytes (from ${tflite ? 'TFLite ' : ''}${bytes.length.toLocaleString('en-US')} bytes)`,
  );
}
