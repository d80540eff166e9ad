/**
 * The browser backend: onnxruntime-web. verge's 'cpu' provider is onnxruntime-web's WebAssembly
 * backend (threaded when the page is cross-origin isolated); 'webgpu' is used when the browser
 * offers navigator.gpu. The .wasm files are served by the page's own server next to the bundle
 * (see src/web/build.ts), never fetched from a CDN.
 */
import * as ort from 'onnxruntime-web';
import { VergeError } from '../../errors.ts';
import type { RuntimeBackend } from '../backend.ts';

function hasWebGpu(): boolean {
  return !!(globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu;
}

export const backend: RuntimeBackend = {
  name: 'onnxruntime-web',
  ort,
  availableProviders: () => (hasWebGpu() ? ['cpu', 'webgpu'] : ['cpu']),
  providerProblem: (ep) => {
    if (ep === 'webgpu') return hasWebGpu() ? undefined : 'this browser offers no WebGPU (navigator.gpu)';
    return `onnxruntime-web has no ${ep} provider (it has cpu (WebAssembly) and webgpu)`;
  },
  ortProvider: (ep) => (ep === 'cpu' ? 'wasm' : ep),
  providerFailurePattern: /webgpu|adapter|backend/i,
  configure: (opts) => {
    if (opts.wasmAssets !== undefined) ort.env.wasm.wasmPaths = opts.wasmAssets;
    if (opts.threads !== undefined) {
      if (!(Number.isInteger(opts.threads) && opts.threads >= 1))
        throw new VergeError('E_BAD_ARGUMENT', `threads must be a positive integer, got ${opts.threads}`);
      ort.env.wasm.numThreads = opts.threads;
    }
  },
  readModelFile: (path) => {
    throw new VergeError(
      'E_UNSUPPORTED',
      `a browser cannot open model files by path (${path}); fetch the file and pass its bytes`,
    );
  },
};
