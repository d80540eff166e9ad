/**
 * Split a training set across simulated clients, the ways FL papers do it, seeded:
 * - `iid`: a shuffled, even split.
 * - `shards:N`: sort by label, cut into clients·N equal shards, deal N to each client
 *   (McMahan et al. 2017; N = 2 gives most clients two classes).
 * - `dirichlet:A`: per class, proportions over clients drawn from Dirichlet(A); small A (0.1–0.5)
 *   is strongly skewed (Hsu et al. 2019). Redrawn until every client has MIN_CLIENT_SAMPLES.
 */
import { permutation, selectSamples } from '../data/browser.ts';
import { VergeError } from '../errors.ts';
import { dirichlet, seededRandom } from './random.ts';

export type PartitionSpec =
  { kind: 'iid' } | { kind: 'shards'; perClient: number } | { kind: 'dirichlet'; alpha: number };

/** Fewest samples a Dirichlet client may get before the draw is repeated (a client needs a batch). */
export const MIN_CLIENT_SAMPLES = 10;
/** Redraws of a Dirichlet partition before giving up (tiny datasets with many clients). */
const DIRICHLET_ATTEMPTS = 100;

export function parsePartition(spec: string): PartitionSpec {
  const [kind, arg, extra] = spec.trim().toLowerCase().split(':');
  const num = (what: string) => {
    const v = Number(arg);
    if (arg === undefined || arg === '' || !Number.isFinite(v) || v <= 0 || extra !== undefined)
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `--partition ${kind}:${what}: ${what} must be a positive number, got '${spec}'`,
      );
    return v;
  };
  if (kind === 'iid' && arg === undefined) return { kind: 'iid' };
  if (kind === 'shards') {
    const n = num('N');
    if (!Number.isInteger(n))
      throw new VergeError('E_BAD_ARGUMENT', `--partition shards:N needs a whole N, got '${spec}'`);
    return { kind: 'shards', perClient: n };
  }
  if (kind === 'dirichlet') return { kind: 'dirichlet', alpha: num('A') };
  throw new VergeError('E_BAD_ARGUMENT', `--partition must be iid, shards:N or dirichlet:A, got '${spec}'`);
}

export function describePartition(p: PartitionSpec): string {
  return p.kind === 'iid' ? 'iid' : p.kind === 'shards' ? `shards:${p.perClient}` : `dirichlet:${p.alpha}`;
}

function byClass(labels: Int32Array, order: Uint32Array): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (const i of order) {
    const c = labels[i]!;
    const list = m.get(c);
    if (list) list.push(i);
    else m.set(c, [i]);
  }
  return new Map([...m.entries()].sort((a, b) => a[0] - b[0]));
}

function dirichletSplit(labels: Int32Array, clients: number, alpha: number, seed: number): number[][] {
  const r = seededRandom(seed);
  const classes = byClass(labels, permutation(labels.length, seed));
  for (let attempt = 0; attempt < DIRICHLET_ATTEMPTS; attempt++) {
    const parts: number[][] = Array.from({ length: clients }, () => []);
    for (const idx of classes.values()) {
      const p = dirichlet(r, alpha, clients);
      let start = 0;
      let acc = 0;
      p.forEach((share, k) => {
        acc += share;
        const end = k === clients - 1 ? idx.length : Math.round(acc * idx.length);
        for (let j = start; j < end; j++) parts[k]!.push(idx[j]!);
        start = end;
      });
    }
    if (parts.every((p) => p.length >= Math.min(MIN_CLIENT_SAMPLES, Math.floor(labels.length / clients)))) return parts;
  }
  throw new VergeError(
    'E_BAD_ARGUMENT',
    `dirichlet:${alpha} over ${clients} clients leaves some client under ${MIN_CLIENT_SAMPLES} of ${labels.length} samples after ${DIRICHLET_ATTEMPTS} draws (raise A or use fewer clients)`,
  );
}

function shardSplit(labels: Int32Array, clients: number, perClient: number, seed: number): number[][] {
  const total = clients * perClient;
  if (total > labels.length)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `shards:${perClient} over ${clients} clients needs ${total} samples, have ${labels.length}`,
    );
  // a seeded shuffle first, so samples of one class are in random order within their shards
  const sorted = [...byClass(labels, permutation(labels.length, seed)).values()].flat();
  const size = Math.floor(sorted.length / total);
  const deal = permutation(total, seed + 1);
  return Array.from({ length: clients }, (_, k) => {
    const out: number[] = [];
    for (let s = 0; s < perClient; s++) {
      const shard = deal[k * perClient + s]!;
      const end = shard === total - 1 ? sorted.length : (shard + 1) * size;
      for (let j = shard * size; j < end; j++) out.push(sorted[j]!);
    }
    return out;
  });
}

/** Sample indices of each client (disjoint, together covering the split), sorted ascending. */
export function partitionIndices(labels: Int32Array, clients: number, spec: PartitionSpec, seed = 0): Uint32Array[] {
  if (!(Number.isInteger(clients) && clients >= 1))
    throw new VergeError('E_BAD_ARGUMENT', `clients must be a whole number ≥ 1, got ${clients}`);
  if (labels.length < clients)
    throw new VergeError('E_BAD_ARGUMENT', `${labels.length} samples cannot be split over ${clients} clients`);
  let parts: number[][];
  if (spec.kind === 'iid') {
    const p = permutation(labels.length, seed);
    parts = Array.from({ length: clients }, (_, k) =>
      Array.from(
        p.subarray(Math.floor((k * labels.length) / clients), Math.floor(((k + 1) * labels.length) / clients)),
      ),
    );
  } else if (spec.kind === 'shards') parts = shardSplit(labels, clients, spec.perClient, seed);
  else parts = dirichletSplit(labels, clients, spec.alpha, seed);
  return parts.map((p) => Uint32Array.from(p).sort());
}

/** The samples of an index list as their own split (data/dataset.ts; re-exported for FL callers). */
export { selectSamples };

/** Per-client class histogram (for reports and tests). */
export function classCounts(labels: Int32Array, idx: ArrayLike<number>, classes: number): number[] {
  const c = new Array<number>(classes).fill(0);
  for (let i = 0; i < idx.length; i++) c[labels[idx[i]!]!]!++;
  return c;
}
