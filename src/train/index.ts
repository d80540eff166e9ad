/**
 * train/: automatic differentiation of ONNX graphs and training on onnxruntime.
 *
 *   const s = await TrainingSession.create(model, { loss: 'cross-entropy', optimizer: { kind: 'adam', lr: 1e-3 }, threads: 2 });
 *   const { loss, correct, count } = await s.step({ image: x }, labels, lr);   // one Session.run
 *   await s.evaluate({ image: x }, labels);      // inference mode (running BN stats, no dropout)
 *   await s.predict({ image: x });               // model outputs
 *   saveModel(s.exportModel(), 'trained.onnx');  // plain inference ONNX with the trained weights
 *   s.getState() / s.setState(st); s.checkpointModel() / s.restoreCheckpoint(m); await s.release();
 *   (files, Node only: saveCheckpointFile / loadCheckpointFile / directoryCheckpoints in checkpoint-files.ts)
 *
 *   await fit(s, dataset, { epochs: 5, schedule: parseSchedule('cosine+warmup:100') });   // the trainer
 *   await fit(s, dataset, { callbacks: [{ onBatchEnd: (b, r, ctx) => …, onBatchBegin: (b) => augment(b) }] });
 *   await evaluate(s, dataset);                  // or evaluate(model, dataset): accuracy and loss
 *
 * Between steps (callbacks): s.tensor(name), s.setTensors({...}), s.updateTensors(names, edit),
 * s.resetOptimizer(). Extra objective terms at creation: TrainingSession.create(model, {…,
 * lossTerms: [proximalTerm(0.01)] }) (FedProx; anchors `<param>.anchor` set with setTensors).
 * Gradient formulations are an option too: { formulations: { convWeight: 'patches-gemm' } }.
 *
 * Transfer learning: const { model: m } = replaceHead(model, 5); const { frozen } = resolveFrozen(m, 'backbone');
 * TrainingSession.create(m, { …, frozen, trainBatchNorm: false })   // fresh head, fixed backbone and BN stats
 *
 * Imported GRU/LSTM models are lowered to primitive ops first: lowerRecurrentFor(model, feeds)
 * (lowerRecurrent when the sequence length is known), train the result, then
 * transferParameters(original, trained) puts the weights back into the fused model.
 *
 * Lower level: buildTrainingGraph (forward + loss + backward + optimizer as one ONNX model),
 * buildGradientModel / differentiate (reverse-mode autodiff), checkGradients (finite differences),
 * GRAD_RULES (one rule per op in grad/<Op>.ts).
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
  probeValueShapes,
  type LowerRecurrentOptions,
} from './lower/index.ts';
export {
  buildTrainingGraph,
  buildInferenceGraph,
  type TrainingGraph,
  type TrainingGraphOptions,
  type StateTensor,
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
export { probeShapes, type ShapeMap, type ValueShape } from './shapes.ts';
