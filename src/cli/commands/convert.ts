import type { Command } from 'commander';
import { loadModel, saveModel } from '../../onnx/io.ts';
import { emit } from '../output.ts';

export function register(program: Command): void {
  program
    .command('convert')
    .description('re-serialize a model through the verge IR (lossless round-trip)')
    .argument('<in>', 'input ONNX model')
    .requiredOption('--out <file>', 'output ONNX model')
    .option('--json', 'print one JSON object')
    .action((input: string, opts: { out: string; json?: boolean }) => {
      const model = loadModel(input);
      const bytes = saveModel(model, opts.out);
      emit(opts, { in: input, out: opts.out, bytes }, () => `wrote ${opts.out} (${bytes} bytes)`);
    });
}
