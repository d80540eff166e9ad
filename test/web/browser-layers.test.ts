/**
 * The layers issue 16 puts on the browser path — onnx, nn, train, data (but its file-system
 * sources) and optimize — bundle for browsers: esbuild bundles each one's browser entry for the
 * browser platform with the onnxruntime-web backend, and nothing it takes in is a Node module or
 * onnxruntime-node (a `node:` import fails the bundle outright). The lint rule of eslint.config.js
 * checks each module's own imports; this checks what the entries reach through them.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { browserBundleInputs } from '../../src/web/build.ts';

const SRC = join(import.meta.dirname, '..', '..', 'src');
const ENTRIES = ['onnx/browser.ts', 'nn/index.ts', 'train/browser.ts', 'data/browser.ts', 'optimize/browser.ts'];

describe('layers on the browser path bundle for browsers', () => {
  it.each(ENTRIES)(
    '%s',
    async (entry) => {
      const inputs = await browserBundleInputs(join(SRC, entry));
      expect(inputs.some((f) => f.endsWith(`src/${entry}`))).toBe(true);
      expect(inputs.filter((f) => f.startsWith('node:') || /onnxruntime-node|\/sharp\//.test(f))).toEqual([]);
      // the runtime is onnxruntime-web's (the #ort seam), wherever the layer reaches it
      if (inputs.some((f) => f.endsWith('src/runtime/session.ts')))
        expect(inputs.some((f) => f.includes('node_modules/onnxruntime-web/'))).toBe(true);
    },
    120_000,
  );

  it('optimize/browser.ts carries quantization, pruning, the passes and variant choice', async () => {
    const inputs = await browserBundleInputs(join(SRC, 'optimize', 'browser.ts'));
    for (const m of [
      'quantize/static.ts',
      'quantize/qat.ts',
      'prune/magnitude.ts',
      'passes/pipeline.ts',
      'variants.ts',
    ])
      expect(
        inputs.some((f) => f.endsWith(`src/optimize/${m}`)),
        m,
      ).toBe(true);
  }, 120_000);

  it('refuses a module that reaches a Node module, naming it', async () => {
    await expect(browserBundleInputs(join(SRC, 'optimize', 'index.ts'))).rejects.toThrow(
      /browser bundle: Could not resolve "(node:)?[a-z_]+"/,
    );
  }, 120_000);
});
