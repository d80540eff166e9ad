import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { equals, fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema } from 'onnx-buf';
import { decodeModel, encodeModel } from '../src/onnx/codec.ts';
const root = '/usr/include/onnx/backend/test/data';
let n = 0, eq = 0, same = 0; const fails: string[] = [];
for (const cat of ['node', 'pytorch-converted', 'pytorch-operator', 'simple', 'real']) {
  if (!existsSync(join(root, cat))) continue;
  for (const d of readdirSync(join(root, cat))) {
    const f = join(root, cat, d, 'model.onnx');
    if (!existsSync(f)) continue;
    n++;
    const bytes = readFileSync(f);
    try {
      const out = encodeModel(decodeModel(bytes));
      const a = fromBinary(ModelProtoSchema, bytes), b = fromBinary(ModelProtoSchema, out);
      if (equals(ModelProtoSchema, a, b)) eq++; else fails.push(cat + '/' + d);
      if (Buffer.compare(Buffer.from(out), bytes) === 0) same++;
    } catch (e) { fails.push(cat + '/' + d + ' ' + e); }
  }
}
console.log({ n, eq, same }, fails.slice(0, 20));
