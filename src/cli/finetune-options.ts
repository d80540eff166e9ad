/**
 * The fine-tuning flags `verge prune` and `verge optimize` share: declared here (light, for the
 * declarations) and checked together by their actions.
 */
import type { Command } from 'commander';
import { VergeError } from '../errors.ts';
import { nonNegativeInt, positiveInt } from './options.ts';

/** The parsed values of the shared fine-tuning flags. */
export interface FinetuneCliOptions {
  data?: string;
  /** Fine-tuning epochs (0: none). */
  finetuneEpochs: number;
  /** At most this many training samples per epoch (undefined: all). */
  finetuneSamples?: number;
  /** onnxruntime threads. */
  threads: number;
}

/** Declare --finetune-epochs, --finetune-samples and --threads on a command. */
export function addFinetuneOptions(command: Command, epochsHelp: string, defaultThreads: number): Command {
  return command
    .option('--finetune-epochs <n>', epochsHelp, nonNegativeInt('--finetune-epochs'), 0)
    .option(
      '--finetune-samples <n>',
      'fine-tune on at most this many training samples per epoch',
      positiveInt('--finetune-samples'),
    )
    .option('--threads <n>', 'onnxruntime threads', positiveInt('--threads'), defaultThreads);
}

/** Fine-tuning needs data to train on. */
export function checkFinetuneOptions(opts: FinetuneCliOptions): void {
  if (opts.finetuneEpochs > 0 && !opts.data)
    throw new VergeError('E_BAD_ARGUMENT', '--finetune-epochs needs --data to train on');
}
