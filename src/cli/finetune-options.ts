/**
 * Flag parsing shared by `verge prune` and `verge optimize`: numeric flags, and the fine-tuning
 * flags both commands take (--finetune-epochs, --finetune-samples, --threads, with --data).
 */
import type { Command } from 'commander';
import { VergeError } from '../errors.ts';

/** A numeric flag value, or E_BAD_ARGUMENT naming the flag. */
export function parseNumber(flag: string, v: string, integer = false): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new VergeError('E_BAD_ARGUMENT', `${flag} must be ${integer ? 'an integer' : 'a number'}, got '${v}'`);
  }
  return n;
}

/** The raw (commander) values of the shared fine-tuning flags. */
export interface FinetuneCliOptions {
  data?: string;
  finetuneEpochs: string;
  finetuneSamples?: string;
  threads: string;
}

export interface FinetuneSettings {
  /** Fine-tuning epochs (0: none). */
  epochs: number;
  /** At most this many training samples per epoch (undefined: all). */
  samples?: number;
  /** onnxruntime threads. */
  threads: number;
}

/** Declare --finetune-epochs and --finetune-samples on a command. */
export function addFinetuneOptions(command: Command, epochsHelp: string): Command {
  return command
    .option('--finetune-epochs <n>', epochsHelp, '0')
    .option('--finetune-samples <n>', 'fine-tune on at most this many training samples per epoch');
}

/** Parse and check the shared flags: whole numbers, at least one thread, fine-tuning only with data. */
export function parseFinetuneOptions(opts: FinetuneCliOptions): FinetuneSettings {
  const epochs = parseNumber('--finetune-epochs', opts.finetuneEpochs, true);
  if (epochs < 0) throw new VergeError('E_BAD_ARGUMENT', `--finetune-epochs must be >= 0, got ${epochs}`);
  const threads = parseNumber('--threads', opts.threads, true);
  if (threads < 1) throw new VergeError('E_BAD_ARGUMENT', `--threads must be >= 1, got ${threads}`);
  const samples =
    opts.finetuneSamples !== undefined ? parseNumber('--finetune-samples', opts.finetuneSamples, true) : undefined;
  if (samples !== undefined && samples < 1)
    throw new VergeError('E_BAD_ARGUMENT', `--finetune-samples must be >= 1, got ${samples}`);
  if (epochs > 0 && !opts.data) throw new VergeError('E_BAD_ARGUMENT', '--finetune-epochs needs --data to train on');
  return { epochs, samples, threads };
}
