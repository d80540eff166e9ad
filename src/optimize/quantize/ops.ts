/**
 * One record per quantizable op: how static (QDQ) quantization treats it and whether dynamic
 * quantization rewrites it. The quantizers derive their op sets from this table; the weight's
 * layout (input, channel axes) comes from onnx/'s weight-layout table (src/onnx/weights.ts).
 * Adding a quantizable op = adding its record here.
 */

/**
 * - weighted: a float weight; becomes QLinearConv / QGemm / QLinearMatMul.
 * - arithmetic: onnxruntime fuses its own int8 kernel from DQ→op→Q (QLinearAdd, QLinearAveragePool, ...).
 * - pass-through: only moves or selects values; onnxruntime drops the Q/DQ pair around it and runs
 *   it on int8 directly, so the output shares the input's scale and zero point.
 * - activation: folded into the preceding quantized node (a zero point at the range's bottom clips like ReLU).
 */
export type StaticRole = 'weighted' | 'arithmetic' | 'pass-through' | 'activation';

export interface QuantizableOp {
  readonly op: string;
  readonly static: StaticRole;
  /** Dynamic quantization (MatMulInteger / ConvInteger with runtime activation ranges) rewrites it. */
  readonly dynamic: boolean;
}

export const QUANTIZABLE_OPS: readonly QuantizableOp[] = Object.freeze(
  (
    [
      ['Conv', 'weighted', true],
      ['Gemm', 'weighted', true],
      ['MatMul', 'weighted', true],
      ['Add', 'arithmetic', false],
      ['Mul', 'arithmetic', false],
      ['AveragePool', 'arithmetic', false],
      ['GlobalAveragePool', 'arithmetic', false],
      ['Concat', 'arithmetic', false],
      ['MaxPool', 'pass-through', false],
      ['Reshape', 'pass-through', false],
      ['Flatten', 'pass-through', false],
      ['Transpose', 'pass-through', false],
      ['Squeeze', 'pass-through', false],
      ['Unsqueeze', 'pass-through', false],
      ['Relu', 'activation', false],
      ['Clip', 'activation', false],
    ] as const
  ).map(([op, role, dynamic]) => Object.freeze({ op, static: role, dynamic })),
);

/** Op types whose static role is `role`. */
export function opsWithRole(role: StaticRole): ReadonlySet<string> {
  return new Set(QUANTIZABLE_OPS.filter((r) => r.static === role).map((r) => r.op));
}
