import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { loadModel, saveModel } from '../../onnx/io.ts';
import { emit } from '../output.ts';

export function register(program: Command): void {
  program
    .command('convert')
    .description('re-serialize a model through the verge IR (lossless round-trip); the output is written atomically')
    .argument('<in>', 'input ONNX model')
    .requiredOption('--out <file>', 'output ONNX model (temp file + rename: never half-written)')
    .option('--json', 'print one JSON object: {in, out, bytes_in, bytes_out}')
    .action((input: string, opts: { out: string; json?: boolean }) => {
      const model = loadModel(input);
      const bytesIn = statSync(input).size;
      const bytesOut = saveModel(model, opts.out);
      emit(
        opts,
        { in: input, out: opts.out, bytes_in: bytesIn, bytes_out: bytesOut, bytes: bytesOut },
        () =>
          `wrote ${opts.out}: ${bytesOut.toLocaleString('en-US')} bytes (from ${bytesIn.toLocaleString('en-US')} bytes)`,
      );
    });
}
