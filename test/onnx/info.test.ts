/**
 * `verge info` on models exported from PyTorch: parameter counts equal PyTorch's
 * sum(p.numel()) (+ BatchNorm running statistics), MACs equal those counted by forward hooks in
 * PyTorch, op histograms and opsets equal what python-onnx reads from the same file.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeModel } from '../../src/onnx/codec.ts';
import { modelInfo, type ModelInfo } from '../../src/onnx/info.ts';
import { GraphBuilder, makeModel, makeTensor } from '../../src/onnx/builder.ts';
import { saveModel } from '../../src/onnx/io.ts';
import {
  SMALL_FIXTURES,
  TORCHVISION_FIXTURES,
  ensureTorchvisionFixture,
  fixtureMeta,
  fixturePath,
  fixtureSkipReason,
} from '../fixtures/index.ts';

const VERGE = join(import.meta.dirname, '../../bin/verge.js');

function cliInfo(path: string): ModelInfo {
  const out = execFileSync(process.execPath, [VERGE, 'info', path, '--json'], { encoding: 'utf8' });
  return JSON.parse(out) as ModelInfo;
}

function checkAgainstMeta(name: string, info: ModelInfo, path: string): void {
  const meta = fixtureMeta(name);
  expect(info.parameters).toBe(meta.expected_parameters);
  expect(info.parameters).toBe(meta.pytorch_parameters + meta.bn_running_stats);
  expect(info.macs).toBe(meta.macs_per_sample);
  expect(info.macsUnknownNodes).toBe(0);
  expect(info.ops).toEqual(meta.ops);
  expect(info.nodes).toBe(meta.nodes);
  expect(info.opset).toBe(meta.opset);
  expect(info.bytes).toBe(statSync(path).size);
  expect(info.inputs).toEqual(meta.inputs);
  expect(info.outputs).toEqual(meta.outputs);
}

describe('verge info on PyTorch fixtures', () => {
  for (const name of SMALL_FIXTURES) {
    it(`${name}: parameters, MACs, ops and opset match PyTorch`, () => {
      const path = fixturePath(name);
      checkAgainstMeta(name, modelInfo(decodeModel(new Uint8Array(readFileSync(path)))), path);
    });
  }

  it('the CLI prints the same figures as one JSON object', () => {
    const path = fixturePath('seed_cnn');
    const info = cliInfo(path);
    checkAgainstMeta('seed_cnn', info, path);
    expect(info.macs).toBe(32 * 26 * 26 * 9 + 64 * 11 * 11 * 32 * 9 + 1600 * 64 + 64 * 10);
  });

  it('the human output is a readable summary', () => {
    const out = execFileSync(process.execPath, [VERGE, 'info', fixturePath('residual_block')], { encoding: 'utf8' });
    expect(out).toMatch(/opset 13/);
    expect(out).toMatch(/4,736 parameters/);
    expect(out).toMatch(/BatchNormalization\s+2/);
    expect(out).toMatch(/input\s+input\s+float32\s+\[batch, 16, 8, 8\]/);
  });

  it('the human output of a quantized model names its integer weights beside the float parameters', () => {
    const b = new GraphBuilder();
    b.input('x', 'float32', ['batch', 64]);
    b.graph.initializers.push(makeTensor('w_q', 'int8', [64, 32]), makeTensor('w_scale', 'float32', [], [0.02]));
    const w = b.op('DequantizeLinear', ['w_q', 'w_scale']);
    b.output(b.op('MatMul', ['x', w]));
    const dir = mkdtempSync(join(tmpdir(), 'verge-info-'));
    try {
      const path = join(dir, 'int8.onnx');
      saveModel(makeModel(b.graph, { opset: 17 }), path);
      const out = execFileSync(process.execPath, [VERGE, 'info', path], { encoding: 'utf8' });
      expect(out).toMatch(/, 1 float parameters \+ 2,048 integer weights \(2\.0 k in all\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad files fail with one line and a non-zero exit', () => {
    const r = spawnSync(process.execPath, [VERGE, 'info', join(import.meta.dirname, 'nope.onnx')], {
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: E_FILE_NOT_FOUND: /);
    const t = spawnSync(process.execPath, [VERGE, 'info', fixturePath('seed_cnn.json')], { encoding: 'utf8' });
    expect(t.status).not.toBe(0);
    expect(t.stderr).toMatch(/^error: E_NOT_ONNX: /);
    expect(t.stdout).toBe('');
  });

  const skip = fixtureSkipReason();
  for (const name of TORCHVISION_FIXTURES) {
    it.skipIf(!!skip && process.env.CI !== 'true')(
      `torchvision ${name}${skip ? ` (skipped: ${skip})` : ''}`,
      async () => {
        const path = await ensureTorchvisionFixture(name);
        expect(path, skip).toBeDefined();
        // in-process: one CLI test above covers the command; each CLI start costs seconds here
        checkAgainstMeta(name, modelInfo(decodeModel(new Uint8Array(readFileSync(path!)))), path!);
      },
    );
  }
});

describe('modelInfo counting rules', () => {
  it('counts float initializers, stored values of sparse ones, and not integer ones', () => {
    const b = new GraphBuilder();
    b.input('x', 'float32', ['batch', 4]);
    const w = b.initializer('w', 'float32', [4, 3]);
    const shape = b.constInt64([-1, 3]);
    const y = b.op('MatMul', ['x', w]);
    const r = b.op('Reshape', [y, shape]);
    b.output(r, 'float32', ['batch', 3]);
    b.graph.initializers.push(makeTensor('q', 'int8', [10]));
    b.graph.sparseInitializers.push({
      values: makeTensor('s', 'float32', [2], [1, 2]),
      indices: makeTensor('s_idx', 'int64', [2], [0n, 5n]),
      dims: [4, 4],
    });
    const info = modelInfo(makeModel(b.graph, { opset: 17 }));
    expect(info.parameters).toBe(12 + 2);
    expect(info.initializerElements).toBe(12 + 2 + 10 + 2);
    expect(info.macs).toBe(4 * 3); // batch taken as 1
    expect(info.inputs).toEqual([{ name: 'x', dtype: 'float32', shape: ['batch', 4] }]);
    expect(info.ops).toEqual({ MatMul: 1, Reshape: 1 });
  });

  it('flags compute ops it cannot count instead of counting them as 0', () => {
    const b = new GraphBuilder();
    b.input('x', 'float32', [1, 8, 4, 4]);
    const w = b.initializer('w', 'float32', [8, 8, 1, 1]);
    b.op('Conv', ['x', w], {}, { domain: 'com.microsoft.nchwc' });
    const z = b.op('MatMul', ['x', 'x_unknown_rank']);
    b.output(z);
    const info = modelInfo(makeModel(b.graph, { extraOpsets: [{ domain: 'com.microsoft.nchwc', version: 1 }] }));
    expect(info.macs).toBe(0);
    expect(info.macsUnknownNodes).toBe(2);
    expect(info.ops).toEqual({ 'com.microsoft.nchwc:Conv': 1, MatMul: 1 });
  });

  it('reads the contracted length of every matrix-product form from the weight layout table', () => {
    // y [2, 6] = x [2, 5] · B, B stored [5, 6], or [6, 5] where transB is set: K = 5 in every case
    const b = new GraphBuilder();
    b.input('x', 'float32', [2, 5]);
    b.input('xq', 'uint8', [2, 5]);
    const wKN = b.initializer('w_kn', 'float32', [5, 6]);
    const wNK = b.initializer('w_nk', 'float32', [6, 5]);
    const qKN = b.initializer('q_kn', 'int8', [5, 6]);
    const qNK = b.initializer('q_nk', 'int8', [6, 5]);
    const s = b.initializer('s', 'float32', [], [1]);
    const z = b.initializer('z', 'uint8', [], [0]);
    const zi = b.initializer('zi', 'int8', [], [0]);
    const transB = { transB: 1 };
    const outs = [
      b.op('Gemm', ['x', wKN]),
      b.op('Gemm', ['x', wNK], transB),
      b.op('MatMulInteger', ['xq', qKN, z, zi]),
      b.op('FusedMatMul', ['x', wNK], transB, { domain: 'com.microsoft' }),
      b.op('QGemm', ['xq', s, z, qNK, s, zi], transB, { domain: 'com.microsoft' }),
      b.op('QLinearMatMul', ['xq', s, z, qKN, s, zi, s, z]),
    ];
    for (const o of outs) b.output(o);
    const model = makeModel(b.graph, { opset: 17, extraOpsets: [{ domain: 'com.microsoft', version: 1 }] });
    const info = modelInfo(model);
    expect(info.macsUnknownNodes).toBe(0);
    expect(info.macs).toBe(outs.length * 2 * 6 * 5);
  });

  it('counts a Conv form over all of its weight but the output channels', () => {
    const b = new GraphBuilder();
    b.input('xq', 'uint8', [1, 4, 6, 6]);
    const w = b.initializer('w', 'int8', [8, 2, 3, 3]);
    const z = b.initializer('z', 'uint8', [], [0]);
    b.output(b.op('ConvInteger', ['xq', w, z], { group: 2 }));
    const info = modelInfo(makeModel(b.graph, { opset: 17 }));
    // y [1, 8, 4, 4]; each output element: C_in/group (2) · 3 · 3
    expect(info.macs).toBe(8 * 4 * 4 * 2 * 3 * 3);
  });
});
