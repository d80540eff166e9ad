/**
 * optimizeGraph: run graph passes in order and report what each removed. Every pass is a pure
 * `Model -> Model` (a pass may also name the nodes it left alone and why); the pipeline only
 * sequences them and counts.
 */
import { VergeError } from '../../errors.ts';
import type { Model } from '../../onnx/browser.ts';
import { foldBatchNorm } from './batchnorm-folding.ts';
import { foldConstantsWithReport, type SkippedNode } from './constant-folding.ts';
import { eliminateDeadNodes } from './dead-code.ts';
import { removeIdentities } from './identity-removal.ts';
import { simplifyShapeOps } from './shape-simplification.ts';

/** What a pass returns: the new model, or the model with the nodes it could not transform. */
export type PassOutput = Model | { model: Model; skipped: SkippedNode[] };
export type GraphPass = (model: Model) => PassOutput | Promise<PassOutput>;

/** The passes by name, in the default order (shape simplification exposes constants to folding). */
export const GRAPH_PASSES = Object.freeze({
  'remove-identities': removeIdentities,
  'simplify-shapes': simplifyShapeOps,
  'fold-constants': (m: Model) => foldConstantsWithReport(m),
  'fold-batchnorm': foldBatchNorm,
  'eliminate-dead-nodes': eliminateDeadNodes,
} satisfies Record<string, GraphPass>);

export type GraphPassName = keyof typeof GRAPH_PASSES;
export const DEFAULT_PASSES = Object.freeze(Object.keys(GRAPH_PASSES) as GraphPassName[]);

export interface PassResult {
  pass: GraphPassName;
  nodesBefore: number;
  nodesAfter: number;
  initializersBefore: number;
  initializersAfter: number;
  /** Nodes the pass could have applied to but left as they were, and why (fold-constants). */
  skipped?: SkippedNode[];
}

export interface OptimizeGraphOptions {
  passes?: GraphPassName[];
}

export async function optimizeGraph(
  model: Model,
  opts: OptimizeGraphOptions = {},
): Promise<{ model: Model; passes: PassResult[] }> {
  const names = opts.passes ?? DEFAULT_PASSES;
  const results: PassResult[] = [];
  let current = model;
  for (const name of names) {
    const pass = GRAPH_PASSES[name] as GraphPass | undefined;
    if (!pass) {
      throw new VergeError('E_BAD_ARGUMENT', `unknown graph pass '${name}' (known: ${DEFAULT_PASSES.join(', ')})`);
    }
    const output = await pass(current);
    const next = 'graph' in output ? output : output.model;
    results.push({
      pass: name,
      nodesBefore: current.graph.nodes.length,
      nodesAfter: next.graph.nodes.length,
      initializersBefore: current.graph.initializers.length,
      initializersAfter: next.graph.initializers.length,
      ...('skipped' in output ? { skipped: output.skipped } : {}),
    });
    current = next;
  }
  return { model: current, passes: results };
}
