/**
 * The runtime's backend seam: which onnxruntime package runs sessions, and the host services that
 * differ between Node and a browser. The backend is chosen by the package.json "imports" map
 * (`#ort`: the "browser" condition selects backends/web.ts, every other environment
 * backends/node.ts), so bundlers and Node pick it statically; nothing is decided at run time.
 */
import type * as ortCommon from 'onnxruntime-common';

/** The part of an onnxruntime package verge uses (the onnxruntime-common API both packages share). */
export interface OrtModule {
  InferenceSession: typeof ortCommon.InferenceSession;
  Tensor: typeof ortCommon.Tensor;
  env: ortCommon.Env;
}

export interface RuntimeBackend {
  /** 'onnxruntime-node' or 'onnxruntime-web'. */
  readonly name: 'onnxruntime-node' | 'onnxruntime-web';
  readonly ort: OrtModule;
  /** Execution providers this host can offer ('cpu' always). */
  availableProviders(): string[];
  /** Why execution provider `ep` ('cuda', 'webgpu') cannot run here, or undefined when it may. */
  providerProblem(ep: string): string | undefined;
  /** onnxruntime's own name for a verge provider on this backend (web runs 'cpu' as 'wasm'). */
  ortProvider(ep: string): string;
  /** Shorten onnxruntime's provider failure message to its informative part. */
  readonly providerFailurePattern: RegExp;
  /**
   * Where the browser backend loads onnxruntime-web's WebAssembly files from (a URL prefix served
   * by the page's own server) and how many WASM threads it uses (threads need a cross-origin
   * isolated page). Call before the first session; onnxruntime-node ignores it.
   */
  configure(opts: WebRuntimeOptions): void;
  /**
   * WebAssembly threads onnxruntime-web runs its sessions with: the configured count, or its own
   * choice (min(4, ⌈cores / 2⌉) on a cross-origin-isolated page, else 1), known once the first
   * session exists; undefined before that and on Node.
   */
  webThreads(): number | undefined;
  /** Model bytes of a file path (Node); a browser has no file paths and throws E_UNSUPPORTED. */
  readModelFile(path: string): { bytes: Uint8Array; name: string };
  /**
   * Bytes of resident memory a session of `model` holds after each run of `runs` (in order; zeros
   * of the given dtypes and dims), in a process of its own (Node); a browser cannot measure it and
   * throws E_UNSUPPORTED.
   */
  loadedMemory(model: Uint8Array, runs: readonly FeedSpec[][], threads: number): Promise<number[]>;
}

/** An input to make up: zeros of a dtype and dims. */
export interface FeedSpec {
  name: string;
  dtype: string;
  dims: number[];
}

export interface WebRuntimeOptions {
  /** URL prefix (ending in '/') of onnxruntime-web's ort-wasm-*.mjs/.wasm files. */
  wasmAssets?: string;
  /** WebAssembly threads (default: onnxruntime-web's choice, 1 without cross-origin isolation). */
  threads?: number;
}
