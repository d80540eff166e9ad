/**
 * The browser backend of verge's own pages by default: onnxruntime-web's WebAssembly-only build
 * (`onnxruntime-web/wasm`, no Asyncify), about twice as fast as the JSEP build on CPU in
 * bench/browser and half its size. src/web/build.ts maps `#ort` here.
 */
import * as ort from 'onnxruntime-web/wasm';
import { webBackend } from './web-host.ts';

export const backend = webBackend(ort, { webgpu: false });
