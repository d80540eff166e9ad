/**
 * Extra terms of the training objective, built into the training graph next to the loss and
 * differentiated with it: a regularizer, FedProx's proximal term, a distillation loss… A term
 * emits standard ONNX nodes computing one scalar from the parameters, the model's values and
 * tensors it declares with `input` (held by the TrainingSession, fed every step, changed between
 * steps with `session.setTensors`). The step minimises loss + Σ terms; StepResult.loss stays the
 * data loss, and each term's value is reported in StepResult.terms.
 */
import type { GraphBuilder, DType } from '../onnx/browser.ts';
import type { TensorValue } from '../runtime/index.ts';

export interface ParameterInfo {
  /** Initializer name, which is also the parameter's value name in the training graph. */
  name: string;
  dtype: DType;
  dims: number[];
}

export interface LossTermContext {
  readonly g: GraphBuilder;
  /** The parameters being trained (frozen ones excluded). */
  readonly parameters: readonly ParameterInfo[];
  /** The model output the loss applies to (its logits, for distillation-like terms). */
  readonly output: string;
  /** The model's value of a parameter before training. */
  initial(param: string): TensorValue;
  /**
   * Declare a tensor the session holds and feeds with every step (changed between steps with
   * session.setTensors, saved in checkpoints). Returns its value name in the graph.
   */
  input(name: string, value: TensorValue): string;
}

export interface LossTerm {
  /** Names the term in StepResult.terms and in errors. */
  name: string;
  /** Emit the term; return the name of a scalar value (the model's float type) added to the loss. */
  build(ctx: LossTermContext): string;
}

/** Suffix of the anchor tensors the proximal term declares: `<parameter>.anchor`. */
export const ANCHOR_SUFFIX = '.anchor';

/**
 * (mu / 2) · Σ_p ‖p − anchor_p‖²: FedProx's proximal term (anchors = the round's global weights)
 * or L2-SP fine-tuning (anchors = the pretrained weights). Anchors start at the initial weights;
 * set `<parameter>.anchor` with session.setTensors to move them.
 */
export function proximalTerm(mu: number, name = 'proximal'): LossTerm {
  return {
    name,
    build: (ctx) => {
      const parts = ctx.parameters.map((p) => {
        const anchor = ctx.input(`${p.name}${ANCHOR_SUFFIX}`, ctx.initial(p.name));
        const d = ctx.g.op('Sub', [p.name, anchor]);
        return ctx.g.op('ReduceSum', [ctx.g.op('Mul', [d, d])], { keepdims: 0 });
      });
      const dtype = ctx.parameters[0]?.dtype ?? 'float32';
      const sum = parts.length === 1 ? parts[0]! : ctx.g.op('Sum', parts);
      return ctx.g.op('Mul', [sum, ctx.g.scalar(mu / 2, dtype, `${name}_half_mu`)]);
    },
  };
}
