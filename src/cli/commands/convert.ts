import type { Command } from 'commander';
import { action } from '../command.ts';

export function register(program: Command): void {
  program
    .command('convert')
    .description('re-serialize a model through the verge IR (lossless round-trip); the output is written atomically')
    .argument('<in>', 'input ONNX model')
    .requiredOption('--out <file>', 'output ONNX model (temp file + rename: never half-written)')
    .option('--json', 'print one JSON object: {in, out, bytes_in, bytes_out}')
    .action(action(() => import('../actions/convert.ts')));
}
