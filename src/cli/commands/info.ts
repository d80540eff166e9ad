import type { Command } from 'commander';
import { action } from '../command.ts';

export function register(program: Command): void {
  program
    .command('info')
    .description('summarise an ONNX model: inputs, outputs, op histogram, parameters, size, MACs')
    .argument('<model>', 'ONNX model file')
    .option('--json', 'print one JSON object: {opset, inputs, outputs, ops, nodes, parameters, bytes, macs, ...}')
    .addHelpText(
      'after',
      `
Figures:
  parameters  elements of all floating-point initializers (sparse initializers: stored values;
              external data: declared dims). Integer (quantized) weights are in initializerElements.
  bytes       size of the model file.
  macs        multiply-accumulates of one forward pass through Conv, ConvTranspose, Gemm, MatMul,
              their integer/QLinear forms and GRU/LSTM/RNN; every symbolic or unknown dimension
              (such as the batch) is taken as 1. macsUnknownNodes counts such nodes whose shapes
              could not be inferred or whose layout is not understood (e.g. onnxruntime's
              com.microsoft.nchwc Conv); their MACs are not included.
  nodes, ops  nodes of the main graph (subgraphNodes: inside If/Loop/Scan bodies).`,
    )
    .action(action(() => import('../actions/info.ts')));
}
