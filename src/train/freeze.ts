/**
 * Which parameters a fine-tuning run keeps fixed: `backbone` (everything but the classifier head,
 * see head.ts) or the parameters whose names match a regular expression. Frozen parameters are
 * constants of the training graph: no gradient is computed for them (nor for the part of the
 * network only they depend on) and the optimizer keeps no state for them.
 */
import { VergeError } from '../errors.ts';
import { isFloat, isDefaultDomain, type Model } from '../onnx/browser.ts';
import { findHead } from './head.ts';

export type FreezeSpec = 'backbone' | RegExp;

/** How many parameter names an error message lists as examples. */
const EXAMPLE_NAMES = 4;

/**
 * The model's parameter tensors: float initializers other than BatchNormalization's running
 * statistics (those are buffers, never trained).
 */
export function parameterNames(model: Model): string[] {
  const stats = new Set<string>();
  for (const n of model.graph.nodes) {
    if (n.opType !== 'BatchNormalization' || !isDefaultDomain(n.domain)) continue;
    for (const i of [3, 4]) if (n.inputs[i]) stats.add(n.inputs[i]!);
  }
  return model.graph.initializers.filter((t) => isFloat(t.dtype) && !stats.has(t.name)).map((t) => t.name);
}

export interface FrozenParameters {
  frozen: string[];
  trainable: string[];
}

/** Split the model's parameters by `spec`; refuses a pattern matching nothing or everything. */
export function resolveFrozen(model: Model, spec: FreezeSpec, output?: string): FrozenParameters {
  const params = parameterNames(model);
  let isFrozen: (name: string) => boolean;
  let what: string;
  if (spec === 'backbone') {
    const head = findHead(model, output);
    const keep = new Set([head.weight, ...(head.bias ? [head.bias] : [])]);
    isFrozen = (p) => !keep.has(p);
    what = `--freeze backbone`;
  } else {
    isFrozen = (p) => spec.test(p);
    what = `--freeze /${spec.source}/`;
  }
  const frozen = params.filter(isFrozen);
  const trainable = params.filter((p) => !isFrozen(p));
  const examples = params.slice(0, EXAMPLE_NAMES).join(', ') + (params.length > EXAMPLE_NAMES ? ', …' : '');
  if (frozen.length === 0)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `${what} matches none of the model's ${params.length} parameter tensors (names look like: ${examples})`,
    );
  if (trainable.length === 0)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `${what} matches all ${params.length} parameter tensors: nothing would train`,
    );
  return { frozen, trainable };
}
