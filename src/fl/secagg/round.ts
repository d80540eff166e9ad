/**
 * One secure-aggregation round run in memory (the simulator's transport): every client runs the
 * four exchanges with the server, clients listed in `dropAfterSharing` vanish after sharing keys
 * (the hard case: their pairwise masks are already inside everyone else's input). Each client
 * contributes [w·update, w] with w = min(examples, weightCap)/weightCap (1 under DP), so the
 * server learns Σw·update and Σw, i.e. the weighted mean, and nothing per client.
 */
import { VergeError } from '../../errors.ts';
import { SecAggClient } from './client.ts';
import { fractionBits } from './fixed-point.ts';
import type { SecAggParams } from './messages.ts';
import { SecAggServer } from './server.ts';

/** Default bound on |w·update| values: weight updates of a round stay far inside ±8. */
export const SECAGG_BOUND = 8;
/** Example count at which a client's weight saturates at 1. */
export const SECAGG_WEIGHT_CAP = 10_000;
/** GF(2⁸) Shamir gives at most 255 shares: the largest secure-aggregation round. */
export const SECAGG_MAX_CLIENTS = 255;

export interface SecureInput {
  client: string;
  update: Float32Array;
  examples: number;
}

export interface SecureRoundOptions {
  context: string;
  /** Clients that drop after sharing keys, before sending their masked input. */
  dropAfterSharing?: ReadonlySet<string>;
  /** Use weight 1 for everyone (DP needs the unweighted mean). */
  uniform?: boolean;
  bound?: number;
  weightCap?: number;
  /** Shares needed; default ⌊n/2⌋ + 1. */
  threshold?: number;
}

export interface SecureRoundResult {
  /** Weighted mean of the survivors' updates. */
  mean: Float32Array;
  survivors: string[];
  dropped: string[];
  /** Bytes clients sent and received for the protocol (keys, shares, masked inputs). */
  uplinkBytes: number;
  downlinkBytes: number;
  clippedValues: number;
  /** The server's store after the round (tests inspect it). */
  server: SecAggServer;
}

export async function secureAggregate(
  inputs: readonly SecureInput[],
  opts: SecureRoundOptions,
): Promise<SecureRoundResult> {
  const n = inputs.length;
  if (n < 2) throw new VergeError('E_BAD_ARGUMENT', 'secure aggregation needs at least two clients');
  if (n > SECAGG_MAX_CLIENTS)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `secure aggregation handles at most ${SECAGG_MAX_CLIENTS} clients per round, got ${n}`,
    );
  const length = inputs[0]!.update.length + 1;
  const bound = opts.bound ?? SECAGG_BOUND;
  const cap = opts.weightCap ?? SECAGG_WEIGHT_CAP;
  const params: SecAggParams = {
    context: opts.context,
    threshold: opts.threshold ?? Math.floor(n / 2) + 1,
    bits: fractionBits(n, bound),
    bound,
    length,
  };
  const ids = new Map(inputs.map((x, i) => [x.client, i + 1]));
  const names = new Map([...ids].map(([k, v]) => [v, k]));
  const clients = inputs.map((x) => new SecAggClient(ids.get(x.client)!, params));
  const server = new SecAggServer(params);
  let up = 0;
  let down = 0;

  const keys = clients.map((c) => c.advertise());
  up += keys.length * 64;
  const roster = server.collectKeys(keys);
  down += n * roster.length * 64;
  const shares = await Promise.all(clients.map((c) => c.shareKeys(roster)));
  for (const s of shares) for (const b of s.bundles.values()) up += b.length;
  const inbox = server.routeShares(shares);
  for (const box of inbox.values()) for (const b of box.values()) down += b.length;

  const active = clients.filter((c) => !opts.dropAfterSharing?.has(names.get(c.id)!));
  let clipped = 0;
  inputs.forEach((x, i) => {
    const c = clients[i]!;
    if (!active.includes(c)) return;
    const w = opts.uniform ? 1 : Math.min(x.examples, cap) / cap;
    const v = new Float32Array(length);
    for (let j = 0; j < x.update.length; j++) v[j] = w * x.update[j]!;
    v[length - 1] = w;
    const m = c.maskInput(v, inbox.get(c.id) ?? new Map());
    clipped += c.clipped;
    up += 4 * m.masked.length;
    server.collectMasked(m);
  });
  const survivors = server.survivors();
  down += active.length * survivors.length * 4;
  const answers = active.map((c) => c.unmask(survivors));
  for (const a of answers) up += 33 * (a.maskKeyShares.size + a.seedShares.size);
  const { sum, dropped } = await server.finish(answers);
  const total = sum[length - 1]!;
  if (!(total > 0)) throw new VergeError('E_CONFLICT', 'secure aggregation: the survivors carry no weight');
  const mean = new Float32Array(length - 1);
  for (let j = 0; j < mean.length; j++) mean[j] = sum[j]! / total;
  return {
    mean,
    survivors: survivors.map((s) => names.get(s)!),
    dropped: dropped.map((s) => names.get(s)!),
    uplinkBytes: up,
    downlinkBytes: down,
    clippedValues: clipped,
    server,
  };
}
