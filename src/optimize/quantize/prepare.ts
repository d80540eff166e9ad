/**
 * Graph clean-up before quantization, as onnxruntime's quantization tool also does: Constant nodes
 * become initializers (so Clip bounds and weights are seen as constants), Identity/Dropout go,
 * and BatchNormalization folds into the preceding Conv/Gemm — otherwise a BatchNormalization would
 * sit between Conv and its quantized output and keep both in float.
 */
import { cloneModel, type Model } from '../../onnx/browser.ts';
import { constantNodesToInitializers, eliminateDeadNodes, foldBatchNorm, removeIdentities } from '../passes/index.ts';

export interface PrepareReport {
  nodes_before: number;
  nodes_after: number;
  batchnorm_folded: number;
}

export function prepareForQuantization(model: Model): { model: Model; report: PrepareReport } {
  const m = cloneModel(model);
  constantNodesToInitializers(m.graph);
  const bnBefore = m.graph.nodes.filter((n) => n.opType === 'BatchNormalization').length;
  const out = eliminateDeadNodes(foldBatchNorm(removeIdentities(m)));
  const bnAfter = out.graph.nodes.filter((n) => n.opType === 'BatchNormalization').length;
  return {
    model: out,
    report: {
      nodes_before: model.graph.nodes.length,
      nodes_after: out.graph.nodes.length,
      batchnorm_folded: bnBefore - bnAfter,
    },
  };
}
