/**
 * The ONNX backend test suite as shipped by Debian's libonnx-testdata: each test is a folder
 * holding model.onnx and test_data_set_N/{input_i.pb, output_i.pb} (serialized TensorProtos).
 * Shared by the conformance and shape-inference tests.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { TensorProtoSchema } from 'onnx-buf';
import { tensorFromProto } from '../../src/onnx/codec.ts';
import type { Tensor } from '../../src/onnx/ir.ts';

export const BACKEND_SUITE_ROOT = process.env.VERGE_ONNX_TESTDATA ?? '/usr/include/onnx/backend/test/data';
/** 'real' is left out: Debian ships only stubs there (the models are downloaded on demand). */
export const BACKEND_SUITE_CATEGORIES = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'] as const;

export interface SuiteModel {
  /** e.g. 'node/test_abs' */
  id: string;
  dir: string;
  modelPath: string;
}

export function backendSuiteSkipReason(): string | undefined {
  return existsSync(join(BACKEND_SUITE_ROOT, 'node'))
    ? undefined
    : `ONNX backend test suite not found at ${BACKEND_SUITE_ROOT} (apt-get install libonnx-testdata)`;
}

export function listSuiteModels(): SuiteModel[] {
  const out: SuiteModel[] = [];
  for (const cat of BACKEND_SUITE_CATEGORIES) {
    const catDir = join(BACKEND_SUITE_ROOT, cat);
    if (!existsSync(catDir)) continue;
    for (const name of readdirSync(catDir).sort()) {
      const dir = join(catDir, name);
      const modelPath = join(dir, 'model.onnx');
      if (existsSync(modelPath)) out.push({ id: `${cat}/${name}`, dir, modelPath });
    }
  }
  return out;
}

export interface DataSet {
  name: string;
  inputs: Tensor[];
  outputs: Tensor[];
}

function numbered(dir: string, prefix: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.pb'))
    .sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)))
    .map((f) => join(dir, f));
}

export function readTensorPb(path: string): Tensor {
  return tensorFromProto(fromBinary(TensorProtoSchema, readFileSync(path)));
}

/**
 * The data sets of a test. Input/output files that are not TensorProtos (sequences, optionals,
 * maps) decode to garbage here; callers exclude models with non-tensor inputs or outputs first.
 */
export function readDataSets(m: SuiteModel): DataSet[] {
  return readdirSync(m.dir)
    .filter((d) => d.startsWith('test_data_set_'))
    .sort()
    .map((d) => {
      const dir = join(m.dir, d);
      return {
        name: d,
        inputs: numbered(dir, 'input_').map(readTensorPb),
        outputs: numbered(dir, 'output_').map(readTensorPb),
      };
    });
}
