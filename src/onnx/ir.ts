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

/** Latest IR version verge writes by default (ONNX 1.16+ reads it; onnxruntime 1.30 accepts it). */
export const DEFAULT_IR_VERSION = 10;
/** Default opset for graphs verge builds: supported by onnxruntime-node 1.30 for every op verge emits. */
export const DEFAULT_OPSET = 21;

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
