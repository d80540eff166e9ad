/**
 * Which kernels onnxruntime really runs for a model: the op histogram of the graph it saves after
 * its own fusions (SessionOptions.optimizedModelFilePath). This is how verge shows that a QDQ model
 * executes int8 kernels (QLinearConv, QGemm, ...) rather than dequantizing back to float.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../onnx/index.ts';
import type { Model } from '../../onnx/browser.ts';
import { Session } from '../../runtime/index.ts';
import { countOps } from './common.ts';

/** Op types whose presence in the optimized graph means integer arithmetic. */
export const INT8_KERNELS: readonly string[] = Object.freeze([
  'QLinearConv',
  'QLinearMatMul',
  'QGemm',
  'QLinearAdd',
  'QLinearMul',
  'QLinearAveragePool',
  'QLinearGlobalAveragePool',
  'QLinearConcat',
  'QLinearSigmoid',
  'QLinearLeakyRelu',
  'MatMulInteger',
  'ConvInteger',
  'MatMulIntegerToFloat',
  'DynamicQuantizeMatMul',
  'NhwcQLinearConv',
]);

export interface ExecutedOps {
  ops: Record<string, number>;
  /** Count of int8 kernels among them. */
  int8_kernels: number;
  /** Float compute kernels still present (Conv, Gemm, MatMul and their fused forms). */
  float_compute_kernels: number;
}

const FLOAT_COMPUTE = new Set(['Conv', 'FusedConv', 'Gemm', 'FusedGemm', 'MatMul', 'FusedMatMul']);

export async function executedOps(model: Model | string, threads = 1): Promise<ExecutedOps> {
  const dir = mkdtempSync(join(tmpdir(), 'verge-ort-'));
  try {
    const path = join(dir, 'optimized.onnx');
    const s = await Session.create(model, { optimizedModelPath: path, threads });
    await s.release();
    const ops = countOps(loadModel(path).graph.nodes);
    const int8 = Object.entries(ops).reduce((a, [k, v]) => a + (INT8_KERNELS.includes(k) ? v : 0), 0);
    const flt = Object.entries(ops).reduce((a, [k, v]) => a + (FLOAT_COMPUTE.has(k) ? v : 0), 0);
    return { ops, int8_kernels: int8, float_compute_kernels: flt };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
