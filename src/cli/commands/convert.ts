import type { Command } from 'commander';
import { action } from '../command.ts';

export function register(program: Command): void {
  program
    .command('convert')
    .description(
      'convert a model to ONNX: a TFLite model (.tflite), or re-serialize an ONNX model through the verge IR (lossless)',
    )
    .argument('<in>', 'input model: .onnx, or .tflite (float32, int8/uint8 quantized)')
    .requiredOption('--out <file>', 'output ONNX model (temp file + rename: never half-written)')
    .option('--json', 'print one JSON object: {in, out, bytes_in, bytes_out}')
    .action(action(() => import('../actions/convert.ts')));
}
