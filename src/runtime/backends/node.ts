/** The Node backend: onnxruntime-node (native CPU, optional CUDA/WebGPU providers) and files by path. */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import { readBytes } from '../../onnx/index.ts';
import type { RuntimeBackend } from '../backend.ts';
import { loadedMemory } from './node-memory.ts';

function availableProviders(): string[] {
  try {
    return ort.listSupportedBackends().map((b) => b.name);
  } catch {
    return ['cpu'];
  }
}

/**
 * onnxruntime-node ships CUDA's provider as separate shared libraries that its installer may or may
 * not have fetched ('bundled: false'). When they are missing, creating a session logs a native
 * error and fails; checking for the files first gives a clean E_PROVIDER_UNAVAILABLE instead.
 * Returns undefined when the binary folder cannot be located (then creation decides).
 */
function providerLibraryMissing(ep: string): boolean | undefined {
  try {
    const pkg = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    const bin = join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
    if (!existsSync(bin)) return undefined;
    return !readdirSync(bin).some((f) => f.includes(`onnxruntime_providers_${ep}`));
  } catch {
    return undefined;
  }
}

function providerProblem(ep: string): string | undefined {
  let found: { name: string; bundled: boolean } | undefined;
  try {
    found = ort.listSupportedBackends().find((b) => b.name === ep);
  } catch {
    found = undefined;
  }
  if (!found) return `this onnxruntime build has ${availableProviders().join(', ')}`;
  if (!found.bundled && providerLibraryMissing(ep))
    return `onnxruntime-node was installed without its ${ep} provider libraries`;
  // WebGPU on Linux goes through Vulkan, which needs GPU device nodes. Without /dev/dri, Dawn only
  // finds software adapters that onnxruntime rejects (after printing native warnings).
  if (ep === 'webgpu' && process.platform === 'linux' && !existsSync('/dev/dri'))
    return 'this machine has no GPU device (/dev/dri)';
  return undefined;
}

export const backend: RuntimeBackend = Object.freeze<RuntimeBackend>({
  name: 'onnxruntime-node',
  ort,
  availableProviders,
  providerProblem,
  ortProvider: (ep) => ep,
  providerFailurePattern: /provider|shared library|adapter|cuda|webgpu|dawn/i,
  configure: () => undefined,
  webThreads: () => undefined,
  readModelFile: (path) => ({ bytes: readBytes(path), name: basename(path) }),
  loadedMemory,
});
