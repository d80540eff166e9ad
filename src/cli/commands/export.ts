import type { Command } from 'commander';
import { action } from '../command.ts';
import { choice, positiveInt } from '../options.ts';

export function register(program: Command): void {
  program
    .command('export')
    .description(
      'export an ONNX model to another format: TFLite (.tflite) for float32 CNNs/MLPs (Conv, depthwise Conv, Max/AveragePool, GlobalAveragePool, Gemm/MatMul, Add, Mul, Sub, Div by a constant, BatchNormalization, Flatten/Reshape, Transpose, Slice/Split, Gather, LSTM/GRU (fused nodes, or the unrolled layers of --arch gru), Relu (fused), Clip (ReLU6), Sigmoid, Tanh, Softmax, Concat, Pad, ReduceMean, Constant) and their static int8 (QDQ, `verge quantize --mode static`) forms as int8 TFLite; 4-D inputs become NHWC',
    )
    .argument('<in>', 'input ONNX model (float32, or static int8 QDQ; dynamic/QLinear quantization is refused)')
    .addOption(choice('--format <f>', 'output format', ['tflite']).makeOptionMandatory())
    .requiredOption('--out <file>', 'output file (temp file + rename: never half-written)')
    .option(
      '--batch <n>',
      'size of a symbolic batch dim (TFLite tensors have static shapes)',
      positiveInt('--batch'),
      1,
    )
    .option('--json', 'print one JSON object: {in, out, format, bytes_in, bytes_out, inputs}')
    .action(action(() => import('../actions/export.ts')));
}
