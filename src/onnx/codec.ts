/**
 * Lossless ONNX protobuf <-> IR conversion on @bufbuild/protobuf with the onnx-buf schema (ONNX 1.20).
 * decodeModel(encodeModel(m)) equals m, and encodeModel(decodeModel(bytes)) equals the original
 * message field by field: tensors keep their layout (raw_data, typed fields or external data),
 * and everything verge does not interpret is carried as the decoded message.
 */
import { create, fromBinary, isFieldSet, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProtoSchema,
  AttributeProto_AttributeType as AT,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  SparseTensorProtoSchema,
  StringStringEntryProtoSchema,
  TensorProtoSchema,
  TensorProto_DataLocation,
  TensorShapeProtoSchema,
  TensorShapeProto_DimensionSchema,
  TypeProtoSchema,
  TypeProto_TensorSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type SparseTensorProto,
  type StringStringEntryProto,
  type TensorProto,
  type TypeProto,
  type ValueInfoProto,
} from 'onnx-buf';
import { VergeError, fmtInt } from '../errors.ts';
import { allocate, dtypeCode, dtypeFromCode, storageCtor, type DType, type NumericArray } from './dtype.ts';
import type { Attribute, Graph, KeyValue, Model, Node, SparseTensor, Tensor, ValueInfo, ValueType } from './ir.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * proto2 fields have presence: a field can be present with its default value ('' or 0). The IR
 * stores plain values, so such fields are remembered here to be written again on encode.
 */
const EXPLICIT_DEFAULTS = Symbol('verge.explicitDefaults');
type WithExplicit = { [EXPLICIT_DEFAULTS]?: string[] };

function isDefault(v: unknown): boolean {
  return v === '' || v === 0 || v === 0n || v === false;
}

/** Remember which of `keys` are present in `proto` with their default value. */
function markDefaults(target: object, proto: object, schema: { field: Record<string, unknown> }, keys: string[]): void {
  const present: string[] = [];
  for (const k of keys) {
    const f = schema.field[k];
    if (f && isFieldSet(proto as never, f as never) && isDefault((proto as Record<string, unknown>)[k]))
      present.push(k);
  }
  if (present.length)
    Object.defineProperty(target, EXPLICIT_DEFAULTS, {
      value: present,
      enumerable: true,
      writable: true,
      configurable: true,
    });
}

/**
 * Copy the presence marks of `src` onto its deep copy `dst` (structuredClone drops symbol-keyed
 * properties), so that a cloned model still encodes to the same bytes. Returns `dst`.
 */
export function copyPresenceMarks<T>(src: T, dst: T): T {
  const walk = (a: unknown, b: unknown): void => {
    if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return;
    if (ArrayBuffer.isView(a)) return;
    const marks = (a as WithExplicit)[EXPLICIT_DEFAULTS];
    if (marks)
      Object.defineProperty(b, EXPLICIT_DEFAULTS, {
        value: [...marks],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    if (Array.isArray(a)) a.forEach((x, i) => walk(x, (b as unknown[])[i]));
    else for (const k of Object.keys(a)) walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]);
  };
  walk(src, dst);
  return dst;
}

/** Should `key` be written: it has a value, or it was present with the default value. */
function shouldWrite(src: object, key: string, value: unknown): boolean {
  if (value === undefined) return false;
  return !isDefault(value) || ((src as WithExplicit)[EXPLICIT_DEFAULTS]?.includes(key) ?? false);
}
const utf8enc = new TextEncoder();

// ---------------------------------------------------------------- decode

/** Decode ONNX model bytes. `source` names the file in error messages. */
export function decodeModel(bytes: Uint8Array, source = 'model'): Model {
  if (bytes.length === 0) throw new VergeError('E_NOT_ONNX', `${source} is empty (0 bytes), not an ONNX model`);
  let proto: ModelProto;
  try {
    proto = fromBinary(ModelProtoSchema, bytes);
  } catch (e) {
    throw classifyDecodeError(e, bytes, source);
  }
  if (!proto.graph && looksLikeText(bytes))
    throw new VergeError('E_NOT_ONNX', `${source} looks like a text file, not an ONNX model`);
  if (!proto.graph && proto.irVersion !== 0n && (proto.producerName || proto.opsetImport.length)) {
    // a model header (ir_version, producer, opsets) but the file stops before its graph
    throw new VergeError(
      'E_MODEL_TRUNCATED',
      `${source} ends after ${fmtInt(bytes.length)} bytes, before the model's graph (truncated or incomplete download?)`,
    );
  }
  if (!proto.graph || proto.irVersion === 0n) {
    throw new VergeError(
      'E_NOT_ONNX',
      `${source} is not an ONNX model (${fmtInt(bytes.length)} bytes decode to no ${proto.graph ? 'ir_version' : 'graph'})`,
    );
  }
  return modelFromProto(proto);
}

/**
 * Text files (JSON, CSV, a saved error page) often parse as a protobuf prefix that "ends early";
 * an ONNX file never starts with printable text (its first byte is a field tag such as 0x08).
 */
function looksLikeText(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, Math.min(bytes.length, 64));
  return head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127) || b >= 0x80);
}

function classifyDecodeError(e: unknown, bytes: Uint8Array, source: string): VergeError {
  const msg = e instanceof Error ? e.message : String(e);
  if (looksLikeText(bytes)) return new VergeError('E_NOT_ONNX', `${source} looks like a text file, not an ONNX model`);
  // @bufbuild/protobuf reports a cut inside a varint/length-delimited field as 'premature EOF' and
  // one inside a fixed32/fixed64 field (float, double) as a DataView bounds error.
  if (/premature EOF|out of range|truncated|EOF|outside the bounds of the DataView/i.test(msg)) {
    return new VergeError(
      'E_MODEL_TRUNCATED',
      `${source} ends unexpectedly after ${fmtInt(bytes.length)} bytes (truncated or incomplete download?)`,
    );
  }
  return new VergeError('E_NOT_ONNX', `${source} is not valid ONNX protobuf, not an ONNX model (${msg})`);
}

export function modelFromProto(p: ModelProto): Model {
  const m: Model = {
    irVersion: Number(p.irVersion),
    opsetImports: p.opsetImport.map((o) => ({ domain: o.domain, version: Number(o.version) })),
    graph: graphFromProto(p.graph ?? create(GraphProtoSchema)),
  };
  if (p.producerName) m.producerName = p.producerName;
  if (p.producerVersion) m.producerVersion = p.producerVersion;
  if (p.domain) m.domain = p.domain;
  if (p.modelVersion) m.modelVersion = Number(p.modelVersion);
  if (p.docString) m.docString = p.docString;
  if (p.metadataProps.length) m.metadataProps = kvFromProto(p.metadataProps);
  if (p.functions.length) m.functions = p.functions;
  if (p.trainingInfo.length) m.trainingInfo = p.trainingInfo;
  if (p.configuration.length) m.configuration = p.configuration;
  markDefaults(m, p, ModelProtoSchema, ['producerName', 'producerVersion', 'domain', 'modelVersion', 'docString']);
  m.opsetImports.forEach((o, i) => markDefaults(o, p.opsetImport[i]!, OperatorSetIdProtoSchema, ['domain', 'version']));
  return m;
}

export function graphFromProto(p: GraphProto): Graph {
  const g: Graph = {
    name: p.name,
    nodes: p.node.map(nodeFromProto),
    initializers: p.initializer.map(tensorFromProto),
    sparseInitializers: p.sparseInitializer.map(sparseFromProto),
    inputs: p.input.map(valueInfoFromProto),
    outputs: p.output.map(valueInfoFromProto),
    valueInfo: p.valueInfo.map(valueInfoFromProto),
  };
  if (p.docString) g.docString = p.docString;
  if (p.metadataProps.length) g.metadataProps = kvFromProto(p.metadataProps);
  if (p.quantizationAnnotation.length) g.quantizationAnnotation = p.quantizationAnnotation;
  markDefaults(g, p, GraphProtoSchema, ['name', 'docString']);
  return g;
}

function kvFromProto(kv: StringStringEntryProto[]): KeyValue[] {
  return kv.map((e) => ({ key: e.key, value: e.value }));
}

function nodeFromProto(p: NodeProto): Node {
  const n: Node = {
    name: p.name,
    opType: p.opType,
    domain: p.domain,
    inputs: [...p.input],
    outputs: [...p.output],
    attributes: {},
  };
  for (const a of p.attribute) n.attributes[a.name] = attributeFromProto(a);
  if (p.docString) n.docString = p.docString;
  if (p.overload) n.overload = p.overload;
  if (p.metadataProps.length) n.metadataProps = kvFromProto(p.metadataProps);
  if (p.deviceConfigurations.length) n.deviceConfigurations = p.deviceConfigurations;
  markDefaults(n, p, NodeProtoSchema, ['name', 'opType', 'domain', 'overload', 'docString']);
  return n;
}

function bytesToString(b: Uint8Array): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

function intsFromProto(values: bigint[], a: Attribute): number[] {
  const out = values.map(Number);
  if (values.some((v) => !Number.isSafeInteger(Number(v)) || BigInt(Number(v)) !== v)) a.exactInts = [...values];
  return out;
}

function attributeFromProto(p: AttributeProto): Attribute {
  let a: Attribute;
  switch (p.type) {
    case AT.FLOAT:
      a = { type: 'float', value: p.f };
      break;
    case AT.INT:
      a = { type: 'int', value: 0 };
      a.value = intsFromProto([p.i], a)[0]!;
      break;
    case AT.STRING: {
      const s = bytesToString(p.s);
      a = { type: 'string', value: s ?? '' };
      if (s === undefined) a.exactBytes = [p.s];
      break;
    }
    case AT.TENSOR:
      a = { type: 'tensor', value: tensorFromProto(p.t ?? create(TensorProtoSchema)) };
      break;
    case AT.GRAPH:
      a = { type: 'graph', value: graphFromProto(p.g ?? create(GraphProtoSchema)) };
      break;
    case AT.SPARSE_TENSOR:
      a = { type: 'sparse_tensor', value: sparseFromProto(p.sparseTensor ?? create(SparseTensorProtoSchema)) };
      break;
    case AT.TYPE_PROTO:
      a = { type: 'type_proto', value: p.tp ?? create(TypeProtoSchema) };
      break;
    case AT.FLOATS:
      a = { type: 'floats', value: [...p.floats] };
      break;
    case AT.INTS:
      a = { type: 'ints', value: [] };
      a.value = intsFromProto(p.ints, a);
      break;
    case AT.STRINGS: {
      const ss = p.strings.map(bytesToString);
      a = { type: 'strings', value: ss.map((s) => s ?? '') };
      if (ss.some((s) => s === undefined)) a.exactBytes = [...p.strings];
      break;
    }
    case AT.TENSORS:
      a = { type: 'tensors', value: p.tensors.map(tensorFromProto) };
      break;
    case AT.GRAPHS:
      a = { type: 'graphs', value: p.graphs.map(graphFromProto) };
      break;
    case AT.SPARSE_TENSORS:
      a = { type: 'sparse_tensors', value: p.sparseTensors.map(sparseFromProto) };
      break;
    case AT.TYPE_PROTOS:
      a = { type: 'type_protos', value: p.typeProtos };
      break;
    default:
      a = { type: 'undefined', value: null };
  }
  if (p.refAttrName) a.refAttrName = p.refAttrName;
  if (p.docString) a.docString = p.docString;
  markDefaults(a, p, AttributeProtoSchema, ['refAttrName', 'docString', 'type', 'f', 'i', 's']);
  return a;
}

/** Copy raw little-endian bytes into a fresh, aligned typed array of the dtype's storage class. */
function fromRawBytes(dtype: DType, raw: Uint8Array): NumericArray {
  const C = storageCtor(dtype);
  const n = Math.floor(raw.byteLength / C.BYTES_PER_ELEMENT);
  const buf = new ArrayBuffer(n * C.BYTES_PER_ELEMENT);
  new Uint8Array(buf).set(raw.subarray(0, n * C.BYTES_PER_ELEMENT));
  return new C(buf);
}

export function tensorFromProto(p: TensorProto): Tensor {
  const known = dtypeFromCode(p.dataType);
  const dtype: DType = known ?? 'uint8';
  const t: Tensor = { name: p.name, dtype, dims: p.dims.map(Number), data: allocate(dtype, 0) };
  if (!known) t.rawDataType = p.dataType;
  if (p.dataLocation === TensorProto_DataLocation.EXTERNAL) {
    t.storage = 'external';
    t.externalData = kvFromProto(p.externalData);
  } else if (isFieldSet(p, TensorProtoSchema.field.rawData)) {
    t.storage = 'raw';
    t.data = dtype === 'string' ? [] : fromRawBytes(dtype, p.rawData);
  } else {
    t.storage = 'typed';
    t.data = fromTypedFields(dtype, p);
  }
  if (p.docString) t.docString = p.docString;
  if (p.metadataProps.length) t.metadataProps = kvFromProto(p.metadataProps);
  if (p.segment) t.segment = p.segment;
  markDefaults(t, p, TensorProtoSchema, ['name', 'dataType', 'docString', 'dataLocation']);
  return t;
}

function fromTypedFields(dtype: DType, p: TensorProto) {
  switch (dtype) {
    case 'string':
      return [...p.stringData];
    case 'float32':
    case 'complex64':
      return Float32Array.from(p.floatData);
    case 'float64':
    case 'complex128':
      return Float64Array.from(p.doubleData);
    case 'int64':
      return BigInt64Array.from(p.int64Data);
    case 'uint64':
      return BigUint64Array.from(p.uint64Data);
    case 'uint32':
      return Uint32Array.from(p.uint64Data, (v) => Number(v));
    default: {
      // int32_data carries int32 and every narrower type (float16/bfloat16 as bits, 4-bit packed)
      const C = storageCtor(dtype);
      const out = new C(p.int32Data.length);
      for (let i = 0; i < p.int32Data.length; i++) (out as Int32Array)[i] = p.int32Data[i]!;
      return out;
    }
  }
}

function sparseFromProto(p: SparseTensorProto): SparseTensor {
  return {
    values: tensorFromProto(p.values ?? create(TensorProtoSchema)),
    indices: tensorFromProto(p.indices ?? create(TensorProtoSchema)),
    dims: p.dims.map(Number),
  };
}

function valueInfoFromProto(p: ValueInfoProto): ValueInfo {
  const v: ValueInfo = { name: p.name };
  if (p.type) v.type = typeFromProto(p.type);
  if (p.docString) v.docString = p.docString;
  if (p.metadataProps.length) v.metadataProps = kvFromProto(p.metadataProps);
  markDefaults(v, p, ValueInfoProtoSchema, ['name', 'docString']);
  return v;
}

function typeFromProto(p: TypeProto): ValueType {
  if (p.value.case !== 'tensorType') return { kind: 'opaque', proto: p };
  const tt = p.value.value;
  const known = dtypeFromCode(tt.elemType);
  const t: ValueType = { kind: 'tensor', dtype: known ?? 'float32' };
  if (!known) t.rawElemType = tt.elemType;
  if (p.denotation) t.denotation = p.denotation;
  if (tt.shape) {
    t.shape = tt.shape.dim.map((d) =>
      d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : null,
    );
    if (tt.shape.dim.some((d) => d.denotation)) t.dimDenotations = tt.shape.dim.map((d) => d.denotation || undefined);
  }
  return t;
}

// ---------------------------------------------------------------- encode

/** Encode a model to ONNX protobuf bytes. */
export function encodeModel(m: Model): Uint8Array {
  return toBinary(ModelProtoSchema, modelToProto(m));
}

export function modelToProto(m: Model): ModelProto {
  const p = create(ModelProtoSchema, {
    irVersion: BigInt(m.irVersion),
    opsetImport: m.opsetImports.map((o) => {
      const op = create(OperatorSetIdProtoSchema);
      if (shouldWrite(o, 'domain', o.domain)) op.domain = o.domain;
      if (shouldWrite(o, 'version', o.version)) op.version = BigInt(o.version);
      return op;
    }),
    graph: graphToProto(m.graph),
  });
  if (shouldWrite(m, 'producerName', m.producerName)) p.producerName = m.producerName!;
  if (shouldWrite(m, 'producerVersion', m.producerVersion)) p.producerVersion = m.producerVersion!;
  if (shouldWrite(m, 'domain', m.domain)) p.domain = m.domain!;
  if (shouldWrite(m, 'modelVersion', m.modelVersion)) p.modelVersion = BigInt(m.modelVersion!);
  if (shouldWrite(m, 'docString', m.docString)) p.docString = m.docString!;
  if (m.metadataProps) p.metadataProps = kvToProto(m.metadataProps);
  if (m.functions) p.functions = m.functions;
  if (m.trainingInfo) p.trainingInfo = m.trainingInfo;
  if (m.configuration) p.configuration = m.configuration;
  return p;
}

export function graphToProto(g: Graph): GraphProto {
  const p = create(GraphProtoSchema, {
    node: g.nodes.map(nodeToProto),
    initializer: g.initializers.map(tensorToProto),
    sparseInitializer: g.sparseInitializers.map(sparseToProto),
    input: g.inputs.map(valueInfoToProto),
    output: g.outputs.map(valueInfoToProto),
    valueInfo: g.valueInfo.map(valueInfoToProto),
  });
  if (shouldWrite(g, 'name', g.name)) p.name = g.name;
  if (shouldWrite(g, 'docString', g.docString)) p.docString = g.docString!;
  if (g.metadataProps) p.metadataProps = kvToProto(g.metadataProps);
  if (g.quantizationAnnotation) p.quantizationAnnotation = g.quantizationAnnotation;
  return p;
}

function kvToProto(kv: KeyValue[]): StringStringEntryProto[] {
  return kv.map((e) => create(StringStringEntryProtoSchema, { key: e.key, value: e.value }));
}

function nodeToProto(n: Node): NodeProto {
  const p = create(NodeProtoSchema, {
    input: n.inputs,
    output: n.outputs,
    attribute: Object.entries(n.attributes).map(([name, a]) => attributeToProto(name, a)),
  });
  if (shouldWrite(n, 'name', n.name)) p.name = n.name;
  if (shouldWrite(n, 'opType', n.opType)) p.opType = n.opType;
  if (shouldWrite(n, 'domain', n.domain)) p.domain = n.domain;
  if (shouldWrite(n, 'overload', n.overload)) p.overload = n.overload!;
  if (shouldWrite(n, 'docString', n.docString)) p.docString = n.docString!;
  if (n.metadataProps) p.metadataProps = kvToProto(n.metadataProps);
  if (n.deviceConfigurations) p.deviceConfigurations = n.deviceConfigurations;
  return p;
}

function intsToProto(values: number[], a: Attribute): bigint[] {
  const exact = a.exactInts;
  return values.map((v, i) => (exact && exact[i] !== undefined && Number(exact[i]) === v ? exact[i]! : BigInt(v)));
}

function stringsToProto(values: string[], a: Attribute): Uint8Array<ArrayBuffer>[] {
  const exact = a.exactBytes;
  return values.map((s, i) =>
    exact && exact[i] && s === '' ? (exact[i] as Uint8Array<ArrayBuffer>) : utf8enc.encode(s),
  );
}

function attributeToProto(name: string, a: Attribute): AttributeProto {
  const p = create(AttributeProtoSchema, { name });
  switch (a.type) {
    case 'float':
      p.type = AT.FLOAT;
      p.f = a.value;
      break;
    case 'int':
      p.type = AT.INT;
      p.i = intsToProto([a.value], a)[0]!;
      break;
    case 'string':
      p.type = AT.STRING;
      p.s = stringsToProto([a.value], a)[0]!;
      break;
    case 'tensor':
      p.type = AT.TENSOR;
      p.t = tensorToProto(a.value);
      break;
    case 'graph':
      p.type = AT.GRAPH;
      p.g = graphToProto(a.value);
      break;
    case 'sparse_tensor':
      p.type = AT.SPARSE_TENSOR;
      p.sparseTensor = sparseToProto(a.value);
      break;
    case 'type_proto':
      p.type = AT.TYPE_PROTO;
      p.tp = a.value;
      break;
    case 'floats':
      p.type = AT.FLOATS;
      p.floats = a.value;
      break;
    case 'ints':
      p.type = AT.INTS;
      p.ints = intsToProto(a.value, a);
      break;
    case 'strings':
      p.type = AT.STRINGS;
      p.strings = stringsToProto(a.value, a);
      break;
    case 'tensors':
      p.type = AT.TENSORS;
      p.tensors = a.value.map(tensorToProto);
      break;
    case 'graphs':
      p.type = AT.GRAPHS;
      p.graphs = a.value.map(graphToProto);
      break;
    case 'sparse_tensors':
      p.type = AT.SPARSE_TENSORS;
      p.sparseTensors = a.value.map(sparseToProto);
      break;
    case 'type_protos':
      p.type = AT.TYPE_PROTOS;
      p.typeProtos = a.value;
      break;
    case 'undefined':
      break;
  }
  if (shouldWrite(a, 'refAttrName', a.refAttrName)) p.refAttrName = a.refAttrName!;
  if (shouldWrite(a, 'docString', a.docString)) p.docString = a.docString!;
  // value fields present beside the one the type selects (seen in old exporters)
  const explicit = (a as WithExplicit)[EXPLICIT_DEFAULTS] ?? [];
  if (explicit.includes('f') && a.type !== 'float') p.f = 0;
  if (explicit.includes('i') && a.type !== 'int') p.i = 0n;
  if (explicit.includes('s') && a.type !== 'string') p.s = new Uint8Array(0);
  if (explicit.includes('type') && a.type === 'undefined') p.type = AT.UNDEFINED;
  return p;
}

export function tensorToProto(t: Tensor): TensorProto {
  const p = create(TensorProtoSchema, { dims: t.dims.map(BigInt) });
  const code = t.rawDataType ?? dtypeCode(t.dtype);
  if (shouldWrite(t, 'dataType', code)) p.dataType = code;
  if (shouldWrite(t, 'name', t.name)) p.name = t.name;
  if (shouldWrite(t, 'dataLocation', 0)) p.dataLocation = TensorProto_DataLocation.DEFAULT;
  const storage = t.storage ?? 'raw';
  if (storage === 'external') {
    p.dataLocation = TensorProto_DataLocation.EXTERNAL;
    p.externalData = kvToProto(t.externalData ?? []);
  } else if (t.dtype === 'string') {
    p.stringData = t.data as Uint8Array<ArrayBuffer>[];
  } else if (storage === 'raw') {
    const d = t.data as NumericArray;
    const raw = new Uint8Array(d.byteLength);
    raw.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    p.rawData = raw;
  } else {
    setTypedFields(t, p);
  }
  if (shouldWrite(t, 'docString', t.docString)) p.docString = t.docString!;
  if (t.metadataProps) p.metadataProps = kvToProto(t.metadataProps);
  if (t.segment) p.segment = t.segment;
  return p;
}

function setTypedFields(t: Tensor, p: TensorProto): void {
  const d = t.data as NumericArray;
  switch (t.dtype) {
    case 'float32':
    case 'complex64':
      p.floatData = Array.from(d as Float32Array);
      break;
    case 'float64':
    case 'complex128':
      p.doubleData = Array.from(d as Float64Array);
      break;
    case 'int64':
      p.int64Data = Array.from(d as BigInt64Array);
      break;
    case 'uint64':
      p.uint64Data = Array.from(d as BigUint64Array);
      break;
    case 'uint32':
      p.uint64Data = Array.from(d as Uint32Array, (v) => BigInt(v));
      break;
    default:
      p.int32Data = Array.from(d as Int32Array);
  }
}

function sparseToProto(s: SparseTensor): SparseTensorProto {
  return create(SparseTensorProtoSchema, {
    values: tensorToProto(s.values),
    indices: tensorToProto(s.indices),
    dims: s.dims.map(BigInt),
  });
}

function valueInfoToProto(v: ValueInfo): ValueInfoProto {
  const p = create(ValueInfoProtoSchema);
  if (shouldWrite(v, 'name', v.name)) p.name = v.name;
  if (v.type) p.type = typeToProto(v.type);
  if (shouldWrite(v, 'docString', v.docString)) p.docString = v.docString!;
  if (v.metadataProps) p.metadataProps = kvToProto(v.metadataProps);
  return p;
}

function typeToProto(t: ValueType): TypeProto {
  if (t.kind === 'opaque') return t.proto;
  const tt = create(TypeProto_TensorSchema);
  const code = t.rawElemType ?? dtypeCode(t.dtype);
  if (code) tt.elemType = code;
  if (t.shape) {
    tt.shape = create(TensorShapeProtoSchema, {
      dim: t.shape.map((d, i) => {
        const dim = create(TensorShapeProto_DimensionSchema);
        if (typeof d === 'number') dim.value = { case: 'dimValue', value: BigInt(d) };
        else if (typeof d === 'string') dim.value = { case: 'dimParam', value: d };
        const den = t.dimDenotations?.[i];
        if (den) dim.denotation = den;
        return dim;
      }),
    });
  }
  const p = create(TypeProtoSchema, { value: { case: 'tensorType', value: tt } });
  if (t.denotation) p.denotation = t.denotation;
  return p;
}
