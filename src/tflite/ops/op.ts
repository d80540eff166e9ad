/** The record of one TFLite operator's conversion to ONNX (one file per operator in this folder). */
import type { ImportContext } from '../context.ts';
import type { TfliteOperator } from '../read.ts';
import type { BuiltinName } from '../schema.ts';

export interface TfliteImporter {
  /** The TFLite builtin operator. */
  readonly builtin: BuiltinName;
  /** Emit ONNX nodes computing the operator's outputs and `ctx.define` them. */
  convert(ctx: ImportContext, op: TfliteOperator): void;
}

/** Input `i` of an operator, or undefined when the optional input is omitted (-1). */
export function optionalInput(op: TfliteOperator, i: number): number | undefined {
  const v = op.inputs[i];
  return v === undefined || v < 0 ? undefined : v;
}

/** ONNX padding attributes for TFLite's SAME/VALID (SAME pads the extra row/column at the end, as SAME_UPPER). */
export function padding(code: number): { auto_pad: string } {
  return { auto_pad: code === 0 ? 'SAME_UPPER' : 'VALID' };
}
