/**
 * What both browser backends share: onnxruntime-web's WebAssembly provider as verge's 'cpu'
 * (threaded when the page is cross-origin isolated), WebGPU when the build has it and the browser
 * offers navigator.gpu, and configuration of where the .wasm files are served from (the page's
 * own server, see src/web/build.ts; never a CDN).
 */
import type * as ortWeb from 'onnxruntime-web';
import { VergeError } from '../../errors.ts';
import type { RuntimeBackend } from '../backend.ts';

function hasWebGpu(): boolean {
  return !!(globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu;
}

/** A browser backend over one onnxruntime-web build; `webgpu`: the build includes the WebGPU provider. */
export function webBackend(ort: typeof ortWeb, build: { webgpu: boolean }): RuntimeBackend {
  const webgpu = () => build.webgpu && hasWebGpu();
  return Object.freeze<RuntimeBackend>({
    name: 'onnxruntime-web',
    ort,
    availableProviders: () => (webgpu() ? ['cpu', 'webgpu'] : ['cpu']),
    providerProblem: (ep) => {
      if (ep === 'webgpu')
        return !build.webgpu
          ? 'this page was built with the WebAssembly-only onnxruntime-web (npm run build:web -- --ort webgpu)'
          : hasWebGpu()
            ? undefined
            : 'this browser offers no WebGPU (navigator.gpu)';
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
    webThreads: () => {
      const n = ort.env.wasm.numThreads;
      return typeof n === 'number' && n >= 1 ? n : undefined;
    },
    readModelFile: (path) => {
      throw new VergeError(
        'E_UNSUPPORTED',
        `a browser cannot open model files by path (${path}); fetch the file and pass its bytes`,
      );
    },
    loadedMemory: () => {
      throw new VergeError('E_UNSUPPORTED', 'a browser cannot measure the memory a session takes');
    },
  });
}
