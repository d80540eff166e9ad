import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOnnxFiles } from '../../test/fixtures/onnx-checker.ts';
import { blobModel } from '../../test/fl/helpers.ts';
import { buildArchitecture } from '../nn/architectures.ts';
import { saveModel } from '../onnx/io.ts';
import { modelLayout, weightsOf, withWeights } from './model-weights.ts';

const dir = mkdtempSync(join(tmpdir(), 'verge-fl-weights-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('withWeights', () => {
  it('writes the weights and the lowest IR version the opset needs; the file passes the ONNX checker', (ctx) => {
    const m = blobModel(2); // opset 17, declared IR 10
    expect(m.irVersion).toBe(10);
    const layout = modelLayout(m);
    const w = weightsOf(m, layout).map((v, i) => v + i * 1e-3);
    const out = withWeights(m, layout, w);
    expect(out.irVersion).toBe(8);
    expect([...weightsOf(out, layout)]).toEqual([...w]);
    const file = join(dir, 'blob.onnx');
    saveModel(out, file);
    const check = checkOnnxFiles([file]);
    if (check.skipped) return ctx.skip(check.skipped);
    expect(check.failures).toEqual([]);
  });

  it('keeps IR 10 for an opset-21 model (what its opset needs)', () => {
    const built = buildArchitecture('cnn', { inputShape: [1, 28, 28], classes: 10, seed: 1 });
    const cnn = { ...built, opsetImports: [{ domain: '', version: 21 }] };
    const layout = modelLayout(cnn);
    expect(withWeights(cnn, layout, weightsOf(cnn, layout)).irVersion).toBe(10);
  });
});
