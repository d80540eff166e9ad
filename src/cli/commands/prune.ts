import type { Command } from 'commander';
import { FILTER_FINETUNE_LR, FILTER_FINETUNE_SCHEDULE, FINETUNE_LR } from '../../optimize/defaults.ts';
import { describeSchedule } from '../../train/schedules.ts';
import { action } from '../command.ts';
import { addFinetuneOptions } from '../finetune-options.ts';
import { choice, nonNegativeInt, number, numberList } from '../options.ts';

export function register(program: Command): void {
  const command = program
    .command('prune')
    .description(
      'prune a model: unstructured magnitude pruning (sparse initializers) or structured filter pruning (smaller dense model)',
    )
    .argument('<in>', 'input ONNX model')
    .requiredOption(
      '--sparsity <f>',
      'fraction to prune, in [0, 1): of weights (unstructured) or of filters/units per layer (--structured)',
      number('--sparsity', { min: 0, below: 1 }),
    )
    .option(
      '--structured',
      'remove whole Conv filters and Gemm/MatMul units (layers joined by residual Adds lose the same channels) and rewire their consumers',
    )
    .addOption(choice('--norm <n>', 'structured: filter ranking norm', ['l1', 'l2'], 'l1'))
    .addOption(
      choice(
        '--scope <s>',
        "unstructured: 'global' (one magnitude threshold over all layers) or 'layer' (same sparsity in each)",
        ['global', 'layer'],
        'global',
      ),
    )
    .addOption(
      choice(
        '--layout <l>',
        "unstructured: how pruned weights are stored — 'mask' (non-zero values + a bitmask rebuilt by standard ops; standard-valid, smallest; opset ≥ 9 — below it pruned weights stay dense), 'int64' (ONNX sparse initializers with int64 indices, larger below ~67% sparsity; onnxruntime loads them, but ONNX 1.12's checker (full_check) fails them in shape inference: a sparse_tensor input of Gemm) or 'compact' (int16-index sparse initializers: NON-STANDARD, the ONNX checker rejects them; onnxruntime loads them)",
        ['mask', 'int64', 'compact'],
        'mask',
      ),
    )
    .option(
      '--data <name|dir>',
      'dataset to fine-tune on and to report accuracy before/after (fashion-mnist, a folder of .npy, an .npz)',
    );
  addFinetuneOptions(
    command,
    'fine-tuning epochs on --data (unstructured: gradual pruning on the polynomial schedule while training)',
    2,
  )
    .option(
      '--lr <x>',
      `fine-tuning Adam learning rate (default ${FINETUNE_LR} unstructured, ${FILTER_FINETUNE_LR} structured)`,
      number('--lr', { above: 0 }),
    )
    .option(
      '--schedule <s>',
      `fine-tuning learning-rate schedule: constant | step:<steps>[:<gamma>] | cosine[:<min_lr>], +warmup:<steps> (default constant unstructured, ${describeSchedule(FILTER_FINETUNE_SCHEDULE)} structured)`,
    )
    .option(
      '--stages <list>',
      'structured: comma-separated intermediate ratios pruned first, each followed by one fine-tune epoch (e.g. 0.25)',
      numberList('--stages', number('--stages')),
    )
    .option('--seed <s>', 'seed of the fine-tuning shuffles', nonNegativeInt('--seed'), 0)
    .requiredOption('--out <file>', 'output ONNX model (written atomically)')
    .option(
      '--json',
      'print one JSON object: {mode, sparsity, bytes_in, bytes_out, ratio, layers, accuracy_before, accuracy_after, finetune}',
    )
    .action(action(() => import('../actions/prune.ts')));
}
