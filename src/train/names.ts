/**
 * train/'s names as data (no graph code): what the CLI's declarations offer as choices, loaded by
 * `verge --help` without loading the trainer (test/cli/startup.test.ts).
 */
export type LossKind = 'cross-entropy' | 'binary-cross-entropy' | 'mse';
export const LOSS_KINDS: readonly LossKind[] = Object.freeze(['cross-entropy', 'binary-cross-entropy', 'mse']);

export type OptimizerKind = 'sgd' | 'adam' | 'adamw';
export const OPTIMIZER_KINDS: readonly OptimizerKind[] = Object.freeze(['sgd', 'adam', 'adamw']);
