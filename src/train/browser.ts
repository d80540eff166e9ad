/**
 * train/'s public API without its Node-only module (checkpoint-files.ts): what the browser path
 * (web/app) and other layers import. index.ts re-exports all of it.
 */
export {
  TrainingSession,
  CHECKPOINT_MARK,
  type TrainingSessionOptions,
  type StepResult,
  type TrainingState,
} from './session.ts';
export {
  fit,
  holdOut,
  splitDataset,
  epochShuffleSeed,
  DEFAULT_BATCH_SIZE,
  type FitOptions,
  type FitResult,
  type FitProgress,
  type FitCallback,
  type FitContext,
  type FitBatch,
  type FitCheckpointState,
  type FitCheckpointStore,
  type EpochRecord,
  type EarlyStoppingOptions,
  type Monitor,
} from './fit.ts';
export {
  shardRanges,
  shardRows,
  MAX_OWN_SHARE,
  dataParallelProblem,
  type GradientReplicas,
  type GraphRunner,
} from './data-parallel.ts';
export { evaluate, EVAL_BATCH_SIZE, type EvaluateOptions, type EvaluationResult } from './evaluate.ts';
export { encodeLabels, sampleShapeFor, sampleTensor, type SampleShape } from './feeds.ts';
export { countTop1, top1Accuracy } from './metrics.ts';
export {
  makeSchedule,
  parseSchedule,
  describeSchedule,
  DEFAULT_STEP_GAMMA,
  type Schedule,
  type ScheduleSpec,
} from './schedules.ts';
export {
  lowerRecurrent,
  lowerRecurrentFor,
  hasRecurrent,
  transferParameters,
  type LowerRecurrentOptions,
} from './lower/index.ts';
export {
  buildTrainingGraph,
  buildInferenceGraph,
  LOGIT_SCALE,
  LOGIT_OFFSET,
  type TrainingGraph,
  type TrainingGraphOptions,
  type StateTensor,
  type UpdateGraph,
} from './training-graph.ts';
export {
  differentiate,
  buildGradientModel,
  lowerForTraining,
  NON_DIFFERENTIABLE,
  MIN_TRAINING_OPSET,
  TRAINING_OPSET,
  atTrainingOpset,
  type GradientModel,
} from './autodiff.ts';
export { appendLoss, LOSS_KINDS, type LossKind } from './loss.ts';
export {
  appendOptimizer,
  defaultLearningRate,
  ADAM_DEFAULTS,
  type OptimizerKind,
  type OptimizerOptions,
} from './optimizer.ts';
export { checkGradients, assertGradients, type GradCheckOptions, type GradCheckResult } from './gradcheck.ts';
export { GRAD_RULES, gradRule, type GradRule } from './grad/index.ts';
export {
  DEFAULT_FORMULATIONS,
  resolveFormulations,
  parseFormulations,
  type Formulations,
} from './grad/formulations.ts';
export { proximalTerm, ANCHOR_SUFFIX, type LossTerm, type LossTermContext, type ParameterInfo } from './loss-terms.ts';
export { commuteReluMaxPool } from './rewrite.ts';
export { findHead, replaceHead, type ClassifierHead, type ReplaceHeadOptions } from './head.ts';
export { resolveFrozen, parameterNames, type FreezeSpec, type FrozenParameters } from './freeze.ts';
export type { TrainingModes } from './grad/rule.ts';
export { inferValueShapes, shapeOf, SYMBOLIC_SIZES, type ShapeMap, type ValueShape } from './shapes.ts';
