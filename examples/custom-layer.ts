/**
 * A layer of your own: a learnable Swish, y = x · sigmoid(β ⊙ x) with one β per feature (Ramachandran
 * et al., 2017). A layer says what shape it outputs, how many parameters it creates, and emits ONNX
 * nodes; verge differentiates those nodes like any others, so the layer trains with no gradient
 * code. The trained model is plain ONNX (Sigmoid, Mul) that any ONNX runtime can execute.
 *
 *   npx tsx examples/custom-layer.ts [--steps 300]
 *
 * The last line printed is a JSON summary.
 */
import { parseArgs } from 'node:util';
import {
  Layer,
  Sequential,
  Flatten,
  Dense,
  TrainingSession,
  fit,
  evaluate,
  modelInfo,
  type BuildContext,
  type Shape,
} from 'verge-edge';
import { loadFashionMnist } from 'verge-edge/data';

class LearnableSwish extends Layer {
  readonly kind = 'swish';
  outputShape([s]: Shape[]): Shape {
    return s!;
  }
  paramCount([s]: Shape[]): number {
    return s!.at(-1)!;
  }
  emit(ctx: BuildContext, scope: string, [x]: string[], [s]: Shape[]): string {
    const features = s!.at(-1)!;
    // β starts at 1 (plain SiLU); it broadcasts over the batch and any leading axes
    const beta = this.param(ctx, scope, 'beta', [features], 'ones', { fanIn: features, fanOut: features });
    const gate = ctx.g.op('Sigmoid', [ctx.g.op('Mul', [x!, beta])]);
    return ctx.g.op('Mul', [x!, gate]);
  }
}

const { values: args } = parseArgs({ options: { steps: { type: 'string', default: '300' } } });
const data = loadFashionMnist({ train: 2000, test: 500 });
const net = new Sequential([1, 28, 28], [new Flatten(), new Dense(64), new LearnableSwish('swish_1'), new Dense(10)]);
console.log(net.summary());

const session = await TrainingSession.create(net.build({ seed: 0 }), {
  loss: 'cross-entropy',
  optimizer: { kind: 'adam', lr: 3e-3 },
});
await fit(session, data, { steps: Number(args.steps), batchSize: 64 });
const beta = Array.from(session.tensor('swish_1.beta').data as Float32Array);
const { accuracy } = await evaluate(session, data);
const model = session.exportModel();
await session.release();

const moved = beta.filter((b) => Math.abs(b - 1) > 1e-3).length;
const range = [Math.min(...beta), Math.max(...beta)];
console.log(
  `test accuracy ${(accuracy * 100).toFixed(1)}%; β trained: ${moved} of ${beta.length} moved from 1, range [${range.map((v) => v.toFixed(3)).join(', ')}]`,
);
console.log(`exported ops: ${JSON.stringify(modelInfo(model).ops)}`);
console.log(JSON.stringify({ accuracy, beta_moved: moved, beta_count: beta.length, ops: modelInfo(model).ops }));
