/**
 * The browser backend (the package's "browser" condition): onnxruntime-web's full build, with the
 * WebGPU provider (JSEP) beside WebAssembly. verge's own pages use web-cpu.ts unless built with
 * `--ort webgpu` (src/web/build.ts): the JSEP build's Asyncify instrumentation slows CPU kernels.
 */
import * as ort from 'onnxruntime-web';
import { webBackend } from './web-host.ts';

export const backend = webBackend(ort, { webgpu: true });
