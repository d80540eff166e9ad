import { readFileSync } from 'node:fs';
import { fromBinary, toJson } from '@bufbuild/protobuf';
import { ModelProtoSchema } from 'onnx-buf';
import { decodeModel, encodeModel } from '../src/onnx/codec.ts';
const f = process.argv[2]!;
const bytes = readFileSync(f);
const out = encodeModel(decodeModel(bytes));
const a = JSON.stringify(toJson(ModelProtoSchema, fromBinary(ModelProtoSchema, bytes)), null, 1).split('\n');
const b = JSON.stringify(toJson(ModelProtoSchema, fromBinary(ModelProtoSchema, out)), null, 1).split('\n');
for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) { console.log(i, a.slice(i-3, i + 3).join('\n'), '\n----\n', b.slice(i-3, i + 3).join('\n')); break; }
console.log(bytes.length, out.length);
