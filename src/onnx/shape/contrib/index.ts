/** onnxruntime's com.microsoft ops that its graph optimizer and quantizer emit; one file per op. */
export { DynamicQuantizeMatMul } from './DynamicQuantizeMatMul.ts';
export { FusedConv } from './FusedConv.ts';
export { FusedGemm } from './FusedGemm.ts';
export { FusedMatMul } from './FusedMatMul.ts';
export { MatMulIntegerToFloat } from './MatMulIntegerToFloat.ts';
export { QGemm } from './QGemm.ts';
export { QLinearAdd } from './QLinearAdd.ts';
export { QLinearAveragePool } from './QLinearAveragePool.ts';
export { QLinearConcat } from './QLinearConcat.ts';
export { QLinearGlobalAveragePool } from './QLinearGlobalAveragePool.ts';
export { QLinearLeakyRelu } from './QLinearLeakyRelu.ts';
export { QLinearMul } from './QLinearMul.ts';
export { QLinearSigmoid } from './QLinearSigmoid.ts';
