/** Which graph inputs a caller feeds (as opposed to initializers that older IRs also list as inputs). */
import { VergeError } from '../errors.ts';
import type { Graph, ValueInfo } from './ir.ts';

/** Graph inputs that are not initializers: the values a caller must feed. */
export function dataInputs(graph: Graph): ValueInfo[] {
  const inits = new Set(graph.initializers.map((t) => t.name));
  return graph.inputs.filter((i) => !inits.has(i.name));
}

/** The one data input of a graph; `purpose` names what needs it in the error (e.g. 'fine-tuning'). */
export function singleDataInput(graph: Graph, purpose: string): ValueInfo {
  const inputs = dataInputs(graph);
  if (inputs.length !== 1)
    throw new VergeError(
      'E_UNSUPPORTED',
      `${purpose} needs a model with one data input; this one has ${inputs.length}${inputs.length ? ` (${inputs.map((i) => i.name).join(', ')})` : ''}`,
    );
  return inputs[0]!;
}
