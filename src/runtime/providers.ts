/** Execution providers a Session can ask onnxruntime for. Data only: the CLI lists them in help. */
export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu';
export const EXECUTION_PROVIDERS: readonly ExecutionProvider[] = Object.freeze(['cpu', 'cuda', 'webgpu']);
