/**
 * GRU and LSTM layers over batch-first sequences [T, features] per sample. By default the cell is
 * unrolled into primitive ops (../recurrent.ts) so the model trains with verge's autodiff;
 * `fused: true` emits ONNX's GRU/LSTM node instead (same parameters, faster inference).
 */
import { VergeError } from '../../errors.ts';
import { Layer, shapeError, shapeStr, type BuildContext, type Shape } from '../layer.ts';
import { emitRecurrent, type RecurrentCell } from '../recurrent.ts';

export interface RecurrentOptions {
  units: number;
  /** Output every step [T, units·dirs] instead of the last state [units·dirs]. Default false. */
  returnSequences?: boolean;
  bidirectional?: boolean;
  /** Emit one ONNX GRU/LSTM node instead of primitive ops. Default false. */
  fused?: boolean;
  name?: string;
}

abstract class RecurrentLayer extends Layer {
  abstract readonly cell: RecurrentCell;
  readonly units: number;
  readonly returnSequences: boolean;
  readonly bidirectional: boolean;
  readonly fused: boolean;

  constructor(opts: RecurrentOptions | number) {
    const o = typeof opts === 'number' ? { units: opts } : opts;
    super(o.name);
    if (!(Number.isInteger(o.units) && o.units > 0))
      throw new VergeError('E_BAD_ARGUMENT', `recurrent units must be a positive integer, got ${o.units}`);
    this.units = o.units;
    this.returnSequences = o.returnSequences ?? false;
    this.bidirectional = o.bidirectional ?? false;
    this.fused = o.fused ?? false;
  }

  private get gates(): number {
    return this.cell === 'GRU' ? 3 : 4;
  }
  private get dirs(): number {
    return this.bidirectional ? 2 : 1;
  }

  outputShape([s]: Shape[]): Shape {
    if (!s || s.length !== 2) throw shapeError(this.kind, `expects [steps, features], got ${shapeStr(s ?? [])}`);
    const width = this.units * this.dirs;
    return this.returnSequences ? [s[0]!, width] : [width];
  }

  paramCount([s]: Shape[]): number {
    const H = this.units;
    return this.dirs * this.gates * H * (s![1]! + H + 2);
  }

  emit(ctx: BuildContext, scope: string, [x]: string[], [s]: Shape[]): string {
    const [T, F] = s as [number, number];
    const H = this.units;
    const nd = this.dirs;
    const G = this.gates;
    // PyTorch's GRU/LSTM default: every parameter U(-1/sqrt(H), 1/sqrt(H)).
    const fans = { fanIn: H, fanOut: H };
    const W = this.param(ctx, scope, 'W', [nd, G * H, F], 'torch', fans);
    const R = this.param(ctx, scope, 'R', [nd, G * H, H], 'torch', fans);
    const B = this.param(ctx, scope, 'B', [nd, 2 * G * H], 'torch', fans);
    const g = ctx.g;
    const direction = this.bidirectional ? 'bidirectional' : 'forward';
    if (!this.fused) {
      const out = emitRecurrent(
        g,
        { cell: this.cell, hidden: H, seqLen: T, layout: 1, direction, linearBeforeReset: true },
        { X: x!, W, R, B },
        this.returnSequences ? { Y: true } : { Yh: true },
      );
      // Y [B, T, dirs, H] -> [B, T, dirs·H]; Y_h [B, dirs, H] -> [B, dirs·H]
      return this.returnSequences
        ? g.op('Reshape', [out.Y!, g.constInt64([-1, T, nd * H])])
        : g.op('Reshape', [out.Yh!, g.constInt64([-1, nd * H])]);
    }
    // onnxruntime implements layout 0 only, so transpose around the node.
    const xT = g.op('Transpose', [x!], { perm: [1, 0, 2] });
    const attrs: Record<string, number | string> = { hidden_size: H, direction };
    if (this.cell === 'GRU') attrs.linear_before_reset = 1;
    const nOut = this.cell === 'GRU' ? 2 : 3;
    const outs = g.node(this.cell, [xT, W, R, B], attrs, { outputs: nOut });
    if (this.returnSequences) {
      const y = g.op('Transpose', [outs[0]!], { perm: [2, 0, 1, 3] });
      return g.op('Reshape', [y, g.constInt64([-1, T, nd * H])]);
    }
    const yh = g.op('Transpose', [outs[1]!], { perm: [1, 0, 2] });
    return g.op('Reshape', [yh, g.constInt64([-1, nd * H])]);
  }
}

export class GRU extends RecurrentLayer {
  readonly kind = 'gru';
  readonly cell = 'GRU' as const;
}

export class LSTM extends RecurrentLayer {
  readonly kind = 'lstm';
  readonly cell = 'LSTM' as const;
}
