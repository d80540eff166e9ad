/** Embedding: integer ids -> rows of a learned table (ONNX Gather on axis 0). */
import { VergeError } from '../../errors.ts';
import type { DType } from '../../onnx/browser.ts';
import { fixedConstant, Layer, shapeError, shapeStr, type BuildContext, type Shape } from '../layer.ts';

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

export interface EmbeddingBagOptions extends EmbeddingOptions {
  /**
   * A fixed weight per token id (e.g. inverse document frequencies, inverseDocumentFrequencies in
   * data/text-dataset.ts): the bag is then the weighted mean Σ w_id·row_id / Σ w_id — TF-IDF's
   * weighting, in the graph as a constant (not trained). Default: every token weighs 1.
   */
  weights?: readonly number[];
}

/**
 * Embedding bag (PyTorch's nn.EmbeddingBag mode='mean' with padding_idx 0, fastText's input
 * layer): int64 ids [length] → the mean of the rows of the non-padding ids, [dim] (optionally
 * weighted per token, `weights`). Word order is ignored: with word and word-pair tokens it is a
 * learned, dense bag-of-n-grams. A text of only padding gives zeros. Padding is id 0 (tokenizers'
 * PAD_ID).
 */
export class EmbeddingBag extends Layer {
  readonly kind = 'embeddingbag';
  readonly vocab: number;
  readonly dim: number;
  readonly weights: readonly number[] | undefined;
  constructor(opts: EmbeddingBagOptions) {
    super(opts.name);
    if (!(opts.vocab > 0 && opts.dim > 0))
      throw new VergeError('E_BAD_ARGUMENT', `embedding bag vocab and dim must be positive`);
    if (opts.weights && !(opts.weights.length === opts.vocab && opts.weights.every((w) => w >= 0 && w < Infinity)))
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `embedding bag token weights must be ${opts.vocab} finite non-negative numbers, got ${opts.weights.length}`,
      );
    this.vocab = opts.vocab;
    this.dim = opts.dim;
    this.weights = opts.weights;
  }
  outputShape([s]: Shape[]): Shape {
    if (!s || s.length !== 1) throw shapeError(this.kind, `expects token ids [length], got ${shapeStr(s ?? [])}`);
    return [this.dim];
  }
  paramCount(): number {
    return this.vocab * this.dim;
  }
  emit(ctx: BuildContext, scope: string, [ids]: string[]): string {
    const g = ctx.g;
    // small uniform rows (fastText's 1/dim scale): a mean of many N(0,1) rows would start large
    const table = this.param(ctx, scope, 'weight', [this.vocab, this.dim], 'glorot-uniform', {
      fanIn: this.dim,
      fanOut: this.dim,
    });
    const rows = g.op('Gather', [table, ids!], { axis: 0 }); // [B, L, D]
    let mask = g.op('Cast', [g.op('Greater', [ids!, g.constInt64([0], [])])], { to: 1 }); // [B, L] float32
    if (this.weights) {
      const w = fixedConstant(g, `${scope}.token_weight`, [...this.weights], [this.vocab]);
      mask = g.op('Mul', [mask, g.op('Gather', [w, ids!], { axis: 0 })]);
    }
    // the token count (or the weights' sum), kept above 0 so an all-padding text gives zeros
    const floor = fixedConstant(g, `${scope}.one`, [this.weights ? 1e-6 : 1]);
    const count = g.op('Max', [g.op('ReduceSum', [mask, g.constInt64([1])], { keepdims: 1 }), floor]); // [B, 1]
    const masked = g.op('Mul', [rows, g.op('Unsqueeze', [mask, g.constInt64([2])])]);
    const sum = g.op('ReduceSum', [masked, g.constInt64([1])], { keepdims: 0 }); // [B, D]
    return g.op('Div', [sum, count]);
  }
}
