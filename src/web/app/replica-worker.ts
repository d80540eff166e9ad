/**
 * A data-parallel training replica (replicas.ts): one onnxruntime-web session, on one WebAssembly
 * thread, over the model the page sends (`start`: the training graph's gradient part), then one
 * `run` per step on the page's shard of the batch; the outputs are transferred back. Every reply
 * carries the message's id, and an error as one line.
 */
import { configureRuntime, Session, type TensorValue } from '../../runtime/index.ts';

type Message =
  | { kind: 'start'; id: number; model: Uint8Array; wasmAssets: string }
  | { kind: 'run'; id: number; feeds: Record<string, TensorValue> };

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Message>) => void) | null;
  postMessage(m: unknown, transfer?: Transferable[]): void;
};
let session: Session | undefined;

async function handle(m: Message): Promise<void> {
  if (m.kind === 'start') {
    configureRuntime({ wasmAssets: m.wasmAssets, threads: 1 });
    session = await Session.create(m.model);
    scope.postMessage({ id: m.id });
    return;
  }
  if (!session) throw new Error('no model: start first');
  const outputs = await session.run(m.feeds);
  const transfer = new Set<ArrayBuffer>();
  for (const v of Object.values(outputs)) {
    const buffer = (v.data as Float32Array).buffer;
    if (!Array.isArray(v.data) && buffer instanceof ArrayBuffer) transfer.add(buffer);
  }
  scope.postMessage({ id: m.id, outputs }, [...transfer]);
}

scope.onmessage = (e) => {
  handle(e.data).catch((err: unknown) =>
    scope.postMessage({ id: e.data.id, error: err instanceof Error ? err.message : String(err) }),
  );
};
