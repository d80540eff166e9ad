/**
 * verge's in-memory ONNX model: plain typed objects, initializers as typed arrays.
 * Everything verge does to a model (training, compression, deployment) goes through these types.
 * Parts of the format verge does not interpret (functions, training info, non-tensor types,
 * device configurations, quantization annotations, tensor segments) are carried through as the
 * decoded protobuf messages so that decode -> encode is lossless.
 */
import type {
  DeviceConfigurationProto,
  FunctionProto,
  NodeDeviceConfigurationProto,
  TensorAnnotation,
  TensorProto_Segment,
  TrainingInfoProto,
  TypeProto,
} from 'onnx-buf';
import type { DType, TensorData } from './dtype.ts';

export interface KeyValue {
  key: string;
  value: string;
}

/** A dimension: a fixed size, a symbolic name (e.g. 'batch'), or unknown (null). */
export type Dim = number | string | null;

/** How a tensor's data was (and will again be) laid out in the file. */
export type TensorStorage = 'raw' | 'typed' | 'external';

export interface Tensor {
  name: string;
  dtype: DType;
  dims: number[];
  /** Element storage; see dtype.ts for the per-type convention. Empty for unloaded external data. */
  data: TensorData;
  /** Layout in the file: raw_data bytes, the typed repeated fields, or external data. Default 'raw'. */
  storage?: TensorStorage;
  /** external_data key/value pairs (location, offset, length, checksum) when storage is 'external'. */
  externalData?: KeyValue[];
  docString?: string;
  metadataProps?: KeyValue[];
  /** Opaque: segment info of a chunked tensor (rare). */
  segment?: TensorProto_Segment;
  /** Element type code when it is not one verge knows (kept for lossless round-trip). */
  rawDataType?: number;
}

export interface SparseTensor {
  /** Non-zero values: a 1-D tensor of NNZ elements; its name is the sparse tensor's name. */
  values: Tensor;
  /** int64 indices: [NNZ] linearized or [NNZ, rank] coordinates. */
  indices: Tensor;
  dims: number[];
}

export interface TensorType {
  kind: 'tensor';
  dtype: DType;
  /** undefined: rank unknown. */
  shape?: Dim[];
  denotation?: string;
  /** Element type code when it is not one verge knows. */
  rawElemType?: number;
  /** Per-dimension denotations, when present. */
  dimDenotations?: (string | undefined)[];
}

/** Sequence, map, optional and sparse tensor types are carried opaquely. */
export interface OpaqueType {
  kind: 'opaque';
  proto: TypeProto;
}

export type ValueType = TensorType | OpaqueType;

export interface ValueInfo {
  name: string;
  type?: ValueType;
  docString?: string;
  metadataProps?: KeyValue[];
}

export type AttributeValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: Tensor }
  | { type: 'graph'; value: Graph }
  | { type: 'sparse_tensor'; value: SparseTensor }
  | { type: 'type_proto'; value: TypeProto }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensors'; value: Tensor[] }
  | { type: 'graphs'; value: Graph[] }
  | { type: 'sparse_tensors'; value: SparseTensor[] }
  | { type: 'type_protos'; value: TypeProto[] }
  | { type: 'undefined'; value: null };

export type Attribute = AttributeValue & {
  /** Reference to an attribute of the enclosing function (functions only). */
  refAttrName?: string;
  docString?: string;
  /** Exact int64 values when they do not fit a JS number (kept for lossless round-trip). */
  exactInts?: bigint[];
  /** Exact bytes of string attributes that are not valid UTF-8. */
  exactBytes?: Uint8Array[];
};

export interface Node {
  name: string;
  opType: string;
  /** '' or 'ai.onnx' is the default domain. */
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, Attribute>;
  docString?: string;
  overload?: string;
  metadataProps?: KeyValue[];
  deviceConfigurations?: NodeDeviceConfigurationProto[];
}

export interface Graph {
  name: string;
  nodes: Node[];
  initializers: Tensor[];
  sparseInitializers: SparseTensor[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  valueInfo: ValueInfo[];
  docString?: string;
  metadataProps?: KeyValue[];
  quantizationAnnotation?: TensorAnnotation[];
}

export interface OpsetImport {
  domain: string;
  version: number;
}

export interface Model {
  irVersion: number;
  opsetImports: OpsetImport[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph: Graph;
  metadataProps?: KeyValue[];
  functions?: FunctionProto[];
  trainingInfo?: TrainingInfoProto[];
  configuration?: DeviceConfigurationProto[];
}

/**
 * Lowest IR version that carries a default-domain opset (ONNX's release table: opset 12–14 came
 * with IR 7, 15–18 with IR 8, 19–20 with IR 9, 21–22 with IR 10). verge writes no newer IR version
 * than a model's opsets need, so older ONNX tools (Debian's checker knows IR ≤ 8) read its files.
 */
export function irVersionForOpset(opset: number): number {
  if (opset <= 8) return 3;
  if (opset <= 11) return opset - 5; // 9 → 4, 10 → 5, 11 → 6
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  return 11;
}

/**
 * Default opset of the models verge builds and writes (nn, exports): 17 is the newest that every
 * ONNX ≥ 1.12 tool, Debian's checker included, reads, and it has every op verge's layers emit.
 * Training graphs are verge's own and are raised to a newer opset where a gradient needs one
 * (onnx/opset-upgrade.ts); the saved inference model keeps this one.
 */
export const DEFAULT_OPSET = 17;
/** IR version of DEFAULT_OPSET (8). */
export const DEFAULT_IR_VERSION = irVersionForOpset(DEFAULT_OPSET);

export function emptyGraph(name = 'main'): Graph {
  return {
    name,
    nodes: [],
    initializers: [],
    sparseInitializers: [],
    inputs: [],
    outputs: [],
    valueInfo: [],
  };
}

export function isDefaultDomain(domain: string): boolean {
  return domain === '' || domain === 'ai.onnx';
}

/** Opset version of the default domain, or undefined when the model imports none. */
export function defaultOpset(model: Model): number | undefined {
  return model.opsetImports.find((o) => isDefaultDomain(o.domain))?.version;
}

/** Number of elements of a tensor with these dims. */
export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}
