/**
 * `verge export <in.onnx> --format tflite --out <model.tflite>`: write a float32 (or static int8
 * QDQ) ONNX model as a TensorFlow Lite flatbuffer (src/tflite/export.ts). The output is written atomically.
 */
import { basename } from 'node:path';
import { loadModel, readBytes, writeFileAtomic } from '../../onnx/index.ts';
import { onnxToTflite, readTflite } from '../../tflite/index.ts';
import { emit } from '../output.ts';

export default function exportModel(
  input: string,
  opts: { format: 'tflite'; out: string; batch: number; json?: boolean },
): void {
  const bytesIn = readBytes(input).length;
  const bytes = onnxToTflite(loadModel(input), { batch: opts.batch, source: basename(input) });
  writeFileAtomic(opts.out, bytes);
  const g = readTflite(bytes, opts.out).subgraphs[0]!;
  const inputs = g.inputs.map((i) => ({ name: g.tensors[i]!.name, shape: g.tensors[i]!.shape }));
  emit(
    opts,
    {
      in: input,
      out: opts.out,
      format: opts.format,
      bytes_in: bytesIn,
      bytes_out: bytes.length,
      inputs,
      operators: g.operators.length,
    },
    () =>
      `wrote ${opts.out}: ${bytes.length.toLocaleString('en-US')} bytes, ${g.operators.length} TFLite operators; inputs ${inputs
        .map((i) => `${i.name} [${i.shape}]`)
        .join(', ')}`,
  );
}
