/** Registry of gradient rules: one file per ONNX op (STYLE.md). Adding an op = adding a file + a line here. */
import { deepFreeze, FrozenMap } from '../../frozen.ts';
import type { GradRule } from './rule.ts';
import { Abs } from './Abs.ts';
import { Add } from './Add.ts';
import { AveragePool } from './AveragePool.ts';
import { BatchNormalization } from './BatchNormalization.ts';
import { Cast } from './Cast.ts';
import { Clip } from './Clip.ts';
import { Concat } from './Concat.ts';
import { Conv } from './Conv.ts';
import { ConvTranspose } from './ConvTranspose.ts';
import { Div } from './Div.ts';
import { Dropout } from './Dropout.ts';
import { Erf } from './Erf.ts';
import { Exp } from './Exp.ts';
import { Expand } from './Expand.ts';
import { Flatten } from './Flatten.ts';
import { Gather } from './Gather.ts';
import { Gelu } from './Gelu.ts';
import { Gemm } from './Gemm.ts';
import { GRU } from './GRU.ts';
import { GlobalAveragePool } from './GlobalAveragePool.ts';
import { HardSigmoid } from './HardSigmoid.ts';
import { HardSwish } from './HardSwish.ts';
import { Identity } from './Identity.ts';
import { LayerNormalization } from './LayerNormalization.ts';
import { LeakyRelu } from './LeakyRelu.ts';
import { Log } from './Log.ts';
import { LogSoftmax } from './LogSoftmax.ts';
import { MatMul } from './MatMul.ts';
import { Max } from './Max.ts';
import { MaxPool } from './MaxPool.ts';
import { Min } from './Min.ts';
import { Mul } from './Mul.ts';
import { Neg } from './Neg.ts';
import { PRelu } from './PRelu.ts';
import { Pad } from './Pad.ts';
import { Pow } from './Pow.ts';
import { Reciprocal } from './Reciprocal.ts';
import { ReduceMean } from './ReduceMean.ts';
import { ReduceSum } from './ReduceSum.ts';
import { Relu } from './Relu.ts';
import { Reshape } from './Reshape.ts';
import { Sigmoid } from './Sigmoid.ts';
import { Slice } from './Slice.ts';
import { Softmax } from './Softmax.ts';
import { Softplus } from './Softplus.ts';
import { Split } from './Split.ts';
import { Sqrt } from './Sqrt.ts';
import { Squeeze } from './Squeeze.ts';
import { Sub } from './Sub.ts';
import { Sum } from './Sum.ts';
import { Tanh } from './Tanh.ts';
import { Transpose } from './Transpose.ts';
import { Unsqueeze } from './Unsqueeze.ts';
import { Where } from './Where.ts';

export const GRAD_RULES: ReadonlyMap<string, GradRule> = new FrozenMap(
  [
    Abs,
    Add,
    AveragePool,
    BatchNormalization,
    Cast,
    Clip,
    Concat,
    Conv,
    ConvTranspose,
    Div,
    Dropout,
    Erf,
    Exp,
    Expand,
    Flatten,
    Gather,
    Gelu,
    Gemm,
    GRU,
    GlobalAveragePool,
    HardSigmoid,
    HardSwish,
    Identity,
    LayerNormalization,
    LeakyRelu,
    Log,
    LogSoftmax,
    MatMul,
    Max,
    MaxPool,
    Min,
    Mul,
    Neg,
    PRelu,
    Pad,
    Pow,
    Reciprocal,
    ReduceMean,
    ReduceSum,
    Relu,
    Reshape,
    Sigmoid,
    Slice,
    Softmax,
    Softplus,
    Split,
    Sqrt,
    Squeeze,
    Sub,
    Sum,
    Tanh,
    Transpose,
    Unsqueeze,
    Where,
  ].map((r) => [r.op, deepFreeze(r)]),
);

export function gradRule(op: string): GradRule | undefined {
  return GRAD_RULES.get(op);
}

export type { GradRule } from './rule.ts';
export { GradContext, LowerContext, NodeView, type TrainingModes } from './rule.ts';
