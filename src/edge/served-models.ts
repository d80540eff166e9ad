/**
 * The models an agent is serving right now, one per name, with atomic swap. A request leases the
 * current entry (a reference count); a swap makes the new entry current at once and releases the
 * old onnxruntime session only after its last in-flight request has returned, so a rollout never
 * fails or drops a request.
 */
import { VergeError } from '../errors.ts';
import { decodeModel, type Dim, type DType } from '../onnx/browser.ts';
import { audioInputOf, type AudioInput, readDataInfo, type DataInfo } from '../data/browser.ts';
import { Session, type SessionOptions, type TensorValue } from '../runtime/index.ts';

export interface TensorSpec {
  name: string;
  dtype: DType | 'unknown';
  shape: Dim[] | null;
}

export interface ModelIdentity {
  name: string;
  version: string;
  variant: string;
  sha256: string;
}

export interface LoadedModel extends ModelIdentity {
  session: Session;
  /** Set for models that take a waveform (they accept audio/wav requests). */
  audio?: AudioInput;
  /** How the model's training data was prepared (verge.data): raw image/text/CSV requests use it. */
  data?: DataInfo;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  loadedAt: number;
}

interface Entry {
  model: LoadedModel;
  refs: number;
  retired: boolean;
  drained?: () => void;
}

export interface ModelLease {
  readonly model: LoadedModel;
  run(feeds: Record<string, TensorValue>): Promise<Record<string, TensorValue>>;
  release(): void;
}

function specs(
  list: { name: string; type?: { kind: string; dtype?: DType; shape?: Dim[] } }[],
  skip: Set<string>,
): TensorSpec[] {
  return list
    .filter((v) => !skip.has(v.name))
    .map((v) => ({
      name: v.name,
      dtype: v.type?.kind === 'tensor' ? (v.type.dtype ?? 'unknown') : 'unknown',
      shape: v.type?.kind === 'tensor' ? (v.type.shape ?? null) : null,
    }));
}

/** Create an onnxruntime session for verified model bytes and read its input/output specs. */
export async function loadModelBytes(
  id: ModelIdentity,
  bytes: Uint8Array,
  opts: SessionOptions = {},
): Promise<LoadedModel> {
  const ir = decodeModel(bytes, `${id.name}@${id.version} (${id.variant})`);
  const initNames = new Set(ir.graph.initializers.map((t) => t.name));
  const session = await Session.create(bytes, opts);
  const audio = audioInputOf(ir);
  const data = readDataInfo(ir);
  return {
    ...id,
    session,
    ...(audio ? { audio } : {}),
    ...(data ? { data } : {}),
    inputs: specs(ir.graph.inputs, initNames),
    outputs: specs(ir.graph.outputs, new Set()),
    loadedAt: Date.now(),
  };
}

export class ServedModels {
  private readonly current = new Map<string, Entry>();
  private readonly retiring = new Set<Entry>();

  names(): string[] {
    return [...this.current.keys()].sort();
  }

  get(name: string): LoadedModel | undefined {
    return this.current.get(name)?.model;
  }

  list(): LoadedModel[] {
    return this.names().map((n) => this.current.get(n)!.model);
  }

  /** Sessions still open because a swapped-out model has requests in flight. */
  get retiringCount(): number {
    return this.retiring.size;
  }

  /** Lease the current model `name` for one request. Throws E_NOT_FOUND when none is served. */
  lease(name: string): ModelLease {
    const entry = this.current.get(name);
    if (!entry) {
      throw new VergeError(
        'E_NOT_FOUND',
        `no model named '${name}' is served here (serving: ${this.names().join(', ') || 'none'})`,
      );
    }
    entry.refs++;
    let released = false;
    return {
      model: entry.model,
      run: (feeds) => entry.model.session.run(feeds),
      release: () => {
        if (released) return;
        released = true;
        entry.refs--;
        if (entry.retired && entry.refs === 0) void this.dispose(entry);
      },
    };
  }

  /**
   * Make `model` the one served under its name. Returns once the new model is current; the old
   * session is released in the background when its in-flight requests finish (`drained()` waits).
   */
  swap(model: LoadedModel): LoadedModel | undefined {
    const old = this.current.get(model.name);
    this.current.set(model.name, { model, refs: 0, retired: false });
    if (old) this.retire(old);
    return old?.model;
  }

  /**
   * Serve the current model `name` under another identity with the same bytes (same sha256: a
   * re-release or a rollback to an equal version) without reloading its session. Requests leased
   * before keep the identity they started with; later ones are measured and reported under the new.
   */
  relabel(name: string, id: Omit<ModelIdentity, 'name'>): LoadedModel | undefined {
    const entry = this.current.get(name);
    if (!entry) return undefined;
    if (entry.model.sha256 !== id.sha256)
      throw new VergeError('E_CONFLICT', `cannot relabel ${name}: sha256 ${id.sha256} is not the served bytes`);
    entry.model = { ...entry.model, version: id.version, variant: id.variant };
    return entry.model;
  }

  /** Stop serving `name` (its session closes when idle). */
  remove(name: string): void {
    const old = this.current.get(name);
    if (!old) return;
    this.current.delete(name);
    this.retire(old);
  }

  private retire(entry: Entry): void {
    entry.retired = true;
    this.retiring.add(entry);
    if (entry.refs === 0) void this.dispose(entry);
  }

  private async dispose(entry: Entry): Promise<void> {
    if (!this.retiring.has(entry)) return;
    this.retiring.delete(entry);
    try {
      await entry.model.session.release();
    } finally {
      entry.drained?.();
    }
  }

  /** Resolve when every swapped-out session has been released. */
  async drained(): Promise<void> {
    await Promise.all(
      [...this.retiring].map(
        (e) =>
          new Promise<void>((resolve) => {
            const prev = e.drained;
            e.drained = () => {
              prev?.();
              resolve();
            };
          }),
      ),
    );
  }

  async close(): Promise<void> {
    for (const name of this.names()) this.remove(name);
    await this.drained();
  }
}
