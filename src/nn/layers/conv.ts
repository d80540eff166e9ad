/**
 * Convolutions (Conv1d, Conv2d) and the padding arithmetic shared with pooling. Padding is always
 * emitted as explicit `pads` (never auto_pad) so every consumer, autodiff included, sees numbers.
 */
import { VergeError } from '../../errors.ts';
import type { InitName } from '../init.ts';
import { Layer, shapeError, shapeStr, type BuildContext, type Shape } from '../layer.ts';

/** 'valid' (no padding), 'same' (output = ceil(input / stride), TensorFlow's split), a number, or explicit per-side pads. */
export type Padding = 'valid' | 'same' | number | number[];

function toArray(v: number | number[], rank: number, what: string): number[] {
  const a = typeof v === 'number' ? new Array<number>(rank).fill(v) : v;
  if (a.length !== rank || !a.every((x) => Number.isInteger(x) && x >= 0)) {
    throw new VergeError('E_BAD_ARGUMENT', `${what} must be ${rank} non-negative integer(s), got ${JSON.stringify(v)}`);
  }
  return a;
}

/** ONNX pads [begin_1..begin_n, end_1..end_n] for spatial sizes `input`. */
export function resolvePads(
  padding: Padding,
  input: number[],
  kernel: number[],
  strides: number[],
  dilations: number[],
): number[] {
  const rank = input.length;
  if (padding === 'valid') return new Array<number>(2 * rank).fill(0);
  if (padding === 'same') {
    const begin: number[] = [];
    const end: number[] = [];
    for (let i = 0; i < rank; i++) {
      const out = Math.ceil(input[i]! / strides[i]!);
      const effK = (kernel[i]! - 1) * dilations[i]! + 1;
      const total = Math.max(0, (out - 1) * strides[i]! + effK - input[i]!);
      begin.push(Math.floor(total / 2));
      end.push(total - Math.floor(total / 2));
    }
    return [...begin, ...end];
  }
  if (typeof padding === 'number') return toArray(padding, 2 * rank, 'padding');
  if (padding.length === rank) return [...padding, ...padding];
  return toArray(padding, 2 * rank, 'padding');
}

/** Output spatial size of a convolution/pooling window (floor mode). */
export function windowOutput(
  input: number[],
  kernel: number[],
  strides: number[],
  dilations: number[],
  pads: number[],
): number[] {
  const rank = input.length;
  return input.map(
    (n, i) => Math.floor((n + pads[i]! + pads[i + rank]! - (kernel[i]! - 1) * dilations[i]! - 1) / strides[i]!) + 1,
  );
}

export interface ConvOptions {
  filters: number;
  kernel: number | number[];
  stride?: number | number[];
  padding?: Padding;
  dilation?: number | number[];
  /** Channel groups; groups = input channels = filters gives a depthwise convolution. */
  groups?: number;
  useBias?: boolean;
  kernelInit?: InitName;
  biasInit?: InitName;
  name?: string;
}

/** N-d convolution over [C, *spatial] samples (ONNX Conv, weight [filters, C/groups, *kernel]). */
export class ConvNd extends Layer {
  readonly kind: string;
  readonly rank: number;
  readonly filters: number;
  readonly kernel: number[];
  readonly strides: number[];
  readonly dilations: number[];
  readonly padding: Padding;
  readonly groups: number;
  readonly useBias: boolean;
  readonly kernelInit: InitName;
  readonly biasInit: InitName;

  constructor(rank: number, opts: ConvOptions) {
    super(opts.name);
    this.rank = rank;
    this.kind = `conv${rank}d`;
    if (!(Number.isInteger(opts.filters) && opts.filters > 0))
      throw new VergeError('E_BAD_ARGUMENT', `${this.kind} filters must be a positive integer`);
    this.filters = opts.filters;
    this.kernel = toArray(opts.kernel, rank, `${this.kind} kernel`);
    this.strides = toArray(opts.stride ?? 1, rank, `${this.kind} stride`);
    this.dilations = toArray(opts.dilation ?? 1, rank, `${this.kind} dilation`);
    this.padding = opts.padding ?? 'valid';
    this.groups = opts.groups ?? 1;
    this.useBias = opts.useBias ?? true;
    this.kernelInit = opts.kernelInit ?? 'torch';
    this.biasInit = opts.biasInit ?? 'torch';
    if (this.filters % this.groups !== 0)
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `${this.kind}: filters ${this.filters} not divisible by groups ${this.groups}`,
      );
  }

  private pads(s: Shape): number[] {
    return resolvePads(this.padding, s.slice(1), this.kernel, this.strides, this.dilations);
  }

  outputShape([s]: Shape[]): Shape {
    if (!s || s.length !== this.rank + 1)
      throw shapeError(this.kind, `expects [channels, ${this.rank} spatial dims], got ${shapeStr(s ?? [])}`);
    if (s[0]! % this.groups !== 0)
      throw shapeError(this.kind, `input channels ${s[0]} not divisible by groups ${this.groups}`);
    const out = windowOutput(s.slice(1), this.kernel, this.strides, this.dilations, this.pads(s));
    if (out.some((d) => d < 1))
      throw shapeError(this.kind, `kernel ${shapeStr(this.kernel)} does not fit input ${shapeStr(s)}`);
    return [this.filters, ...out];
  }

  paramCount([s]: Shape[]): number {
    const per = (s![0]! / this.groups) * this.kernel.reduce((a, b) => a * b, 1);
    return this.filters * per + (this.useBias ? this.filters : 0);
  }

  emit(ctx: BuildContext, scope: string, [x]: string[], [s]: Shape[]): string {
    const inPerGroup = s![0]! / this.groups;
    const receptive = this.kernel.reduce((a, b) => a * b, 1);
    const fans = { fanIn: inPerGroup * receptive, fanOut: (this.filters / this.groups) * receptive };
    const w = this.param(ctx, scope, 'weight', [this.filters, inPerGroup, ...this.kernel], this.kernelInit, fans);
    const inputs = [x!, w];
    if (this.useBias) inputs.push(this.param(ctx, scope, 'bias', [this.filters], this.biasInit, fans));
    return ctx.g.op('Conv', inputs, {
      kernel_shape: this.kernel,
      strides: this.strides,
      dilations: this.dilations,
      pads: this.pads(s!),
      group: this.groups,
    });
  }
}

export class Conv2d extends ConvNd {
  constructor(opts: ConvOptions) {
    super(2, opts);
  }
}

export class Conv1d extends ConvNd {
  constructor(opts: ConvOptions) {
    super(1, opts);
  }
}
