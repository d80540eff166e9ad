/** Embedding: integer ids -> rows of a learned table (ONNX Gather on axis 0). */
import { VergeError } from '../../errors.ts';
import type { DType } from '../../onnx/browser.ts';
import { Layer, type BuildContext, type Shape } from '../layer.ts';

export interface EmbeddingOptions {
  vocab: number;
  dim: number;
  name?: string;
}

export class Embedding extends Layer {
  readonly kind = 'embedding';
  readonly vocab: number;
  readonly dim: number;
  constructor(opts: EmbeddingOptions) {
    super(opts.name);
    if (!(opts.vocab > 0 && opts.dim > 0))
      throw new VergeError('E_BAD_ARGUMENT', `embedding vocab and dim must be positive`);
    this.vocab = opts.vocab;
    this.dim = opts.dim;
  }
  outputShape([s]: Shape[]): Shape {
    return [...s!, this.dim];
  }
  override outputDType(): DType {
    return 'float32';
  }
  paramCount(): number {
    return this.vocab * this.dim;
  }
  emit(ctx: BuildContext, scope: string, [ids]: string[]): string {
    // N(0, 1) rows, PyTorch's nn.Embedding default; fans chosen so he-normal's std is 1.
    const table = this.param(ctx, scope, 'weight', [this.vocab, this.dim], 'he-normal', { fanIn: 2, fanOut: this.dim });
    return ctx.g.op('Gather', [table, ids!], { axis: 0 });
  }
}
