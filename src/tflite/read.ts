/**
 * Reading a TensorFlow Lite flatbuffer into plain objects, through the `flatbuffers` runtime and
 * the field slots in ./schema.ts. Bad input (not a TFLite file, truncated, out-of-range offsets)
 * is one E_MODEL_INVALID / E_NOT_TFLITE-style VergeError, never a crash deep in a reader.
 */
import { ByteBuffer } from 'flatbuffers';
import { VergeError } from '../errors.ts';
import {
  BUFFER,
  MODEL,
  OPERATOR,
  OPERATOR_CODE,
  QUANTIZATION,
  SUBGRAPH,
  TENSOR,
  TFLITE_FILE_IDENTIFIER,
} from './schema.ts';

/** Bound on what one file may declare (tensors, operators, dims): a corrupt count fails cleanly. */
const MAX_ITEMS = 1_000_000;

export interface TfliteQuantization {
  scale: number[];
  zeroPoint: number[];
  quantizedDimension: number;
}

export interface TfliteTensor {
  index: number;
  name: string;
  shape: number[];
  /** TensorType code (schema.ts TENSOR_TYPE). */
  type: number;
  /** Index into the model's buffers (0: no data). */
  buffer: number;
  quantization?: TfliteQuantization;
  isVariable: boolean;
}

/** A field reader over one table of the flatbuffer (an operator's options). */
export class FlatTable {
  constructor(
    private readonly bb: ByteBuffer,
    private readonly pos: number,
  ) {}

  private field(slot: number): number {
    return this.bb.__offset(this.pos, 4 + 2 * slot);
  }
  int8(slot: number, fallback = 0): number {
    const o = this.field(slot);
    return o ? this.bb.readInt8(this.pos + o) : fallback;
  }
  bool(slot: number, fallback = false): boolean {
    const o = this.field(slot);
    return o ? this.bb.readInt8(this.pos + o) !== 0 : fallback;
  }
  int32(slot: number, fallback = 0): number {
    const o = this.field(slot);
    return o ? this.bb.readInt32(this.pos + o) : fallback;
  }
  uint32(slot: number, fallback = 0): number {
    const o = this.field(slot);
    return o ? this.bb.readUint32(this.pos + o) : fallback;
  }
  float32(slot: number, fallback = 0): number {
    const o = this.field(slot);
    return o ? this.bb.readFloat32(this.pos + o) : fallback;
  }
  has(slot: number): boolean {
    return this.field(slot) !== 0;
  }
  string(slot: number): string | undefined {
    const o = this.field(slot);
    return o ? (this.bb.__string(this.pos + o) as string) : undefined;
  }
  /**
   * Start (absolute byte offset) and length of a vector field of `itemBytes`-byte items; undefined
   * when absent. The flatbuffers runtime reads past the end of the file as zeros, so a corrupt
   * length would otherwise make up to MAX_ITEMS items (per vector, per table) out of nothing.
   */
  vector(slot: number, itemBytes: number): { start: number; length: number } | undefined {
    const o = this.field(slot);
    if (!o) return undefined;
    const length = this.bb.__vector_len(this.pos + o);
    if (length > MAX_ITEMS) throw invalid(`a vector of ${length} items`);
    const start = this.bb.__vector(this.pos + o);
    if (start < 0 || start + length * itemBytes > this.bb.capacity())
      throw invalid(`a vector of ${length} items at byte ${start} runs past the end of the file`);
    return { start, length };
  }
  int32Vector(slot: number): number[] {
    const v = this.vector(slot, 4);
    return v ? Array.from({ length: v.length }, (_, i) => this.bb.readInt32(v.start + 4 * i)) : [];
  }
  float32Vector(slot: number): number[] {
    const v = this.vector(slot, 4);
    return v ? Array.from({ length: v.length }, (_, i) => this.bb.readFloat32(v.start + 4 * i)) : [];
  }
  int64Vector(slot: number): number[] {
    const v = this.vector(slot, 8);
    return v ? Array.from({ length: v.length }, (_, i) => Number(this.bb.readInt64(v.start + 8 * i))) : [];
  }
  /** The tables of a vector-of-tables field. */
  tables(slot: number): FlatTable[] {
    const v = this.vector(slot, 4);
    return v ? Array.from({ length: v.length }, (_, i) => this.tableAt(v.start + 4 * i)) : [];
  }
  /** A table-typed (or union) field. */
  table(slot: number): FlatTable | undefined {
    const o = this.field(slot);
    return o ? this.tableAt(this.pos + o) : undefined;
  }
  private tableAt(offset: number): FlatTable {
    return new FlatTable(this.bb, this.bb.__indirect(offset));
  }
  /** The raw bytes of a [ubyte] field (a view into the file). */
  bytes(slot: number): Uint8Array {
    const v = this.vector(slot, 1);
    return v ? this.bb.bytes().subarray(v.start, v.start + v.length) : new Uint8Array(0);
  }
}

export interface TfliteOperator {
  /** BuiltinOperator code. */
  builtin: number;
  /** Custom operator name (builtin code 32, CUSTOM). */
  custom?: string;
  /** Operator version (kernels' semantics may change between versions). */
  version: number;
  /** Tensor indices; -1 marks an omitted optional input. */
  inputs: number[];
  outputs: number[];
  options?: FlatTable;
}

export interface TfliteSubgraph {
  name: string;
  tensors: TfliteTensor[];
  inputs: number[];
  outputs: number[];
  operators: TfliteOperator[];
}

export interface TfliteModel {
  version: number;
  description: string;
  subgraphs: TfliteSubgraph[];
  /** Buffer contents by index (views into the file; empty when the tensor has no constant data). */
  buffers: Uint8Array[];
}

function invalid(what: string, source = 'the file'): VergeError {
  return new VergeError('E_MODEL_INVALID', `${source} is not a readable TFLite model (${what})`);
}

function readTensor(t: FlatTable, index: number): TfliteTensor {
  const q = t.table(TENSOR.quantization);
  const scale = q?.float32Vector(QUANTIZATION.scale) ?? [];
  const tensor: TfliteTensor = {
    index,
    name: t.string(TENSOR.name) ?? `tensor_${index}`,
    shape: t.int32Vector(TENSOR.shape),
    type: t.int8(TENSOR.type),
    buffer: t.uint32(TENSOR.buffer),
    isVariable: t.bool(TENSOR.isVariable),
  };
  if (q && scale.length > 0) {
    const zeroPoint = q.int64Vector(QUANTIZATION.zeroPoint);
    tensor.quantization = {
      scale,
      zeroPoint: zeroPoint.length ? zeroPoint : scale.map(() => 0),
      quantizedDimension: q.int32(QUANTIZATION.quantizedDimension),
    };
  }
  return tensor;
}

function readOperator(op: FlatTable, codes: { builtin: number; custom?: string; version: number }[]): TfliteOperator {
  const code = codes[op.uint32(OPERATOR.opcodeIndex)];
  if (!code) throw invalid(`an operator refers to opcode ${op.uint32(OPERATOR.opcodeIndex)} of ${codes.length}`);
  return {
    builtin: code.builtin,
    ...(code.custom !== undefined ? { custom: code.custom } : {}),
    version: code.version,
    inputs: op.int32Vector(OPERATOR.inputs),
    outputs: op.int32Vector(OPERATOR.outputs),
    options: op.table(OPERATOR.builtinOptions),
  };
}

/** Parse a .tflite flatbuffer. `source` names it in errors. */
export function readTflite(bytes: Uint8Array, source = 'model.tflite'): TfliteModel {
  if (bytes.length < 8) throw invalid(`only ${bytes.length} bytes`, source);
  const bb = new ByteBuffer(bytes);
  if (!bb.__has_identifier(TFLITE_FILE_IDENTIFIER))
    throw new VergeError('E_MODEL_INVALID', `${source} is not a TFLite flatbuffer (no "TFL3" identifier)`);
  try {
    const model = new FlatTable(bb, bb.readInt32(bb.position()) + bb.position());
    // builtin_code (int) superseded deprecated_builtin_code (byte) once codes passed 127: take the larger
    const codes = model.tables(MODEL.operatorCodes).map((c) => ({
      builtin: Math.max(c.int8(OPERATOR_CODE.deprecatedBuiltinCode), c.int32(OPERATOR_CODE.builtinCode)),
      custom: c.string(OPERATOR_CODE.customCode),
      version: c.int32(OPERATOR_CODE.version, 1),
    }));
    const buffers = model.tables(MODEL.buffers).map((b) => {
      if (b.has(BUFFER.offset)) throw invalid('buffers stored outside the flatbuffer (over 2 GB)', source);
      return b.bytes(BUFFER.data);
    });
    const subgraphs = model.tables(MODEL.subgraphs).map((g) => ({
      name: g.string(SUBGRAPH.name) ?? '',
      tensors: g.tables(SUBGRAPH.tensors).map(readTensor),
      inputs: g.int32Vector(SUBGRAPH.inputs),
      outputs: g.int32Vector(SUBGRAPH.outputs),
      operators: g.tables(SUBGRAPH.operators).map((op) => readOperator(op, codes)),
    }));
    if (subgraphs.length === 0) throw invalid('no subgraphs', source);
    for (const g of subgraphs) checkIndices(g, buffers.length, source);
    return {
      version: model.uint32(MODEL.version),
      description: model.string(MODEL.description) ?? '',
      subgraphs,
      buffers,
    };
  } catch (e) {
    if (e instanceof VergeError) throw e;
    throw invalid((e as Error).message, source);
  }
}

function checkIndices(g: TfliteSubgraph, buffers: number, source: string): void {
  const n = g.tensors.length;
  const bad = (i: number) => i < -1 || i >= n;
  for (const t of g.tensors)
    if (t.buffer >= buffers) throw invalid(`tensor '${t.name}' uses buffer ${t.buffer}`, source);
  for (const i of [...g.inputs, ...g.outputs]) if (i < 0 || i >= n) throw invalid(`graph tensor index ${i}`, source);
  for (const op of g.operators)
    for (const i of [...op.inputs, ...op.outputs]) if (bad(i)) throw invalid(`operator tensor index ${i}`, source);
}
