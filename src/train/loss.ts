/**
 * Losses appended to a forward graph. Each emits the mean loss over the batch, the gradient of
 * that loss with respect to the model output in closed form (the fused softmax−onehot form is
 * both cheaper and more stable than differentiating the loss nodes), and, for classification,
 * the number of correct predictions so the trainer reports accuracy without a second pass.
 */
import { VergeError } from '../errors.ts';
import { type GraphBuilder, dtypeCode, type DType, type Dim } from '../onnx/browser.ts';
import type { ValueShape } from './shapes.ts';
import { LOSS_KINDS, type LossKind } from './names.ts';

export { LOSS_KINDS, type LossKind } from './names.ts';

export interface LossNodes {
  /** Graph input taking the labels. */
  labels: string;
  labelsDtype: DType;
  /** Scalar mean loss. */
  loss: string;
  /** int64 scalar count of correct predictions (classification losses). */
  correct?: string;
  /** d loss / d output. */
  grad: string;
}

/**
 * Append `kind` on `output` (shape `s`; batch first). `labelShape` is the declared label shape.
 * Cross-entropy takes int64 class indices [N]; the others take float targets shaped like the output.
 */
export function appendLoss(g: GraphBuilder, kind: LossKind, output: string, s: ValueShape, withGrad = true): LossNodes {
  const dt = s.dtype;
  const to = dtypeCode(dt);
  const batchDim: Dim = s.dynamic[0] ? 'batch' : s.dims[0]!;
  const scalar = (v: number) => g.scalar(v, dt, 'loss_c');
  const op = (t: string, i: string[], a: Parameters<GraphBuilder['op']>[2] = {}) => g.op(t, i, a);
  if (kind === 'cross-entropy') {
    if (s.dims.length !== 2 || s.dynamic[1]) {
      throw new VergeError(
        'E_SHAPE_MISMATCH',
        `cross-entropy needs logits of shape [batch, classes]; '${output}' has rank ${s.dims.length}`,
      );
    }
    const classes = s.dims[1]!;
    const labels = g.uniqueName('labels');
    g.graph.inputs.push({ name: labels, type: { kind: 'tensor', dtype: 'int64', shape: [batchDim] } });
    const logp = op('LogSoftmax', [output], { axis: 1 });
    let onehot = op(
      'OneHot',
      [labels, g.scalar(classes, 'int64', 'loss_depth'), g.constFloat([0, 1], [2], 'loss_onehot')],
      { axis: -1 },
    );
    if (dt !== 'float32') onehot = op('Cast', [onehot], { to });
    const n = op('Cast', [op('Gather', [op('Shape', [output]), g.scalar(0, 'int64', 'loss_axis0')])], { to });
    const loss = op('Neg', [op('Div', [op('ReduceSum', [op('Mul', [onehot, logp])], { keepdims: 0 }), n])]);
    const grad = withGrad ? op('Div', [op('Sub', [op('Exp', [logp]), onehot]), n]) : '';
    const hit = op('Equal', [op('ArgMax', [output], { axis: 1, keepdims: 0 }), labels]);
    const correct = op('ReduceSum', [op('Cast', [hit], { to: dtypeCode('int64') })], { keepdims: 0 });
    return { labels, labelsDtype: 'int64', loss, correct, grad };
  }
  const labels = g.uniqueName('targets');
  g.graph.inputs.push({
    name: labels,
    type: {
      kind: 'tensor',
      dtype: dt,
      shape: s.dims.map((d, i) => (s.dynamic[i] ? (i === 0 ? 'batch' : `d${i}`) : d)),
    },
  });
  const count = op('Cast', [op('ReduceProd', [op('Shape', [output])], { keepdims: 0 })], { to });
  if (kind === 'mse') {
    const diff = op('Sub', [output, labels]);
    const loss = op('Div', [op('ReduceSum', [op('Mul', [diff, diff])], { keepdims: 0 }), count]);
    const grad = withGrad ? op('Mul', [diff, op('Div', [scalar(2), count])]) : '';
    return { labels, labelsDtype: dt, loss, grad };
  }
  if (kind === 'binary-cross-entropy') {
    // Stable form: max(z,0) − z·y + log(1 + exp(−|z|)).
    const z = output;
    const softplus = op('Log', [op('Add', [scalar(1), op('Exp', [op('Neg', [op('Abs', [z])])])])]);
    const per = op('Add', [op('Sub', [op('Relu', [z]), op('Mul', [z, labels])]), softplus]);
    const loss = op('Div', [op('ReduceSum', [per], { keepdims: 0 }), count]);
    const grad = withGrad ? op('Div', [op('Sub', [op('Sigmoid', [z]), labels]), count]) : '';
    const hit = op('Equal', [op('Greater', [z, scalar(0)]), op('Greater', [labels, scalar(0.5)])]);
    const correct = op('ReduceSum', [op('Cast', [hit], { to: dtypeCode('int64') })], { keepdims: 0 });
    return { labels, labelsDtype: dt, loss, correct, grad };
  }
  throw new VergeError('E_BAD_ARGUMENT', `unknown loss '${String(kind)}' (expected ${LOSS_KINDS.join(', ')})`);
}
