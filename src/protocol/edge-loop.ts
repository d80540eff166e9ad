/**
 * The edge data loop's wire contract (docs/edge-loop.md): the per-deployment policy the cloud
 * sends agents (collection rules, joint-inference offload), the batch format agents upload
 * collected items in, and the HTTP paths and schemas of the loop's API.
 *
 * Policy delivery: inside the retained deploy message, as `DesiredModel.edge_loop` (an opaque
 * object there, parsed here with `parseEdgeLoopPolicy`), so an agent that cannot read a newer
 * `policy_version` still applies the deployment and keeps its previous policy.
 *
 * Upload: `POST /v1/edge-loop/items`, device Basic auth, body = one upload batch (below). Each
 * item carries an id the agent chose at collection; the cloud stores an id once per device and
 * answers which ids it accepted, already had, or refused, so a retried batch duplicates nothing
 * and the agent forgets nothing before the cloud confirmed it.
 *
 *   batch:  'V' 'L'  u8 version  u8 reserved  u32 count
 *           count × ( u32 m  item metadata (m bytes of JSON, CollectedItemMeta)
 *                     u32 f  the input as one codec frame (codec-frame.ts) )
 */
import { deepFreeze } from '../frozen.ts';
import { z } from 'zod';
import { VergeError, fmtInt } from '../errors.ts';
import { CODEC_NAME_PATTERN } from './codec-frame.ts';
import { fillRoute } from './http.ts';
import { DeviceIdSchema, EpochMs, ModelName, SemverString } from './messages.ts';
import { HTTP_API_ROOT } from './version.ts';

/**
 * Content type of a request body that is one codec frame (codec-frame.ts): how an agent sends an
 * offloaded input to a cloud-hosted model; the `x-verge-input` header names the model input.
 */
export const CODEC_FRAME_CONTENT_TYPE = 'application/vnd.verge.codec-frame';

/** Version of the policy object; a policy with another version is refused (the previous one stays). */
export const EDGE_LOOP_POLICY_VERSION = 1 as const;
/** Default device disk quota for collected items (raw float32 inputs plus metadata). */
export const DEFAULT_COLLECT_QUOTA_MB = 64;
/** Codec preference when a policy names none: 8-bit quantize-delta (≤ 1/510 of the range off), else lossless. */
export const DEFAULT_UPLINK_CODECS = Object.freeze(['quantize-delta:8', 'lossless'] as const);
/** Wait for the cloud model before answering locally, when the policy gives none. */
export const DEFAULT_OFFLOAD_DEADLINE_MS = 500;

/** A codec spec as on the command line: `name` or `name:option` (learned:<model>@<version>). */
export const CodecSpec = z
  .string()
  .max(200)
  .refine((s) => CODEC_NAME_PATTERN.test(s.split(':')[0]!), 'codec: <name>[:<option>]');

/**
 * Sedna-style hard-example filters on the model's class probabilities; an input is hard when any
 * given rule matches: top-1 probability below `top1_below`, top-1 minus top-2 below
 * `margin_below`, or entropy (nats) above `entropy_above`.
 */
export const HardExampleRules = z.object({
  top1_below: z.number().min(0).max(1).optional(),
  margin_below: z.number().min(0).max(1).optional(),
  entropy_above: z.number().min(0).max(20).optional(),
});
export type HardExampleRules = z.infer<typeof HardExampleRules>;

export const CollectPolicy = z.object({
  /** Fraction of all inputs kept regardless of confidence (a uniform sample of what the device sees). */
  sample_rate: z.number().min(0).max(1).default(0),
  hard: HardExampleRules.default({}),
  /** Items kept per predicted class on the device; null = no cap. */
  per_class_cap: z.number().int().min(1).max(10_000_000).nullable().default(null),
  /** Disk the collection may use on the device; the oldest items are evicted beyond it. */
  quota_mb: z.number().positive().max(1_000_000).default(DEFAULT_COLLECT_QUOTA_MB),
  /** Upload collected items to the cloud (false: keep them on the device only, e.g. for FL). */
  upload: z.boolean().default(true),
  /** Uplink codecs in order of preference; the agent uses the first one the cloud can decode. */
  codecs: z
    .array(CodecSpec)
    .min(1)
    .max(8)
    .default([...DEFAULT_UPLINK_CODECS]),
});
export type CollectPolicy = z.infer<typeof CollectPolicy>;

export const OffloadPolicy = z.object({
  /** The cloud-hosted model: `name` (its newest version) or `name@version`. */
  model: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}(@[0-9A-Za-z.+-]{1,64})?$/, 'model: name[@version]'),
  /** Offload when the local top-1 probability is below this. */
  below: z.number().min(0).max(1),
  /**
   * Also offload when the margin between the two most probable classes is below this (measured
   * to rank hard inputs a little better than top-1 at the same offload budget: docs/edge-loop.md).
   * Agents older than this field ignore it and offload on `below` alone.
   */
  margin_below: z.number().min(0).max(1).optional(),
  /** Answer locally (flagged) when the cloud has not answered within this. */
  deadline_ms: z.number().int().min(1).max(60_000).default(DEFAULT_OFFLOAD_DEADLINE_MS),
  /** How the input travels to the cloud. */
  codec: CodecSpec.default('lossless'),
});
export type OffloadPolicy = z.infer<typeof OffloadPolicy>;

export const EdgeLoopPolicy = z.object({
  policy_version: z.literal(EDGE_LOOP_POLICY_VERSION),
  collect: CollectPolicy.nullable().default(null),
  offload: OffloadPolicy.nullable().default(null),
});
export type EdgeLoopPolicy = z.infer<typeof EdgeLoopPolicy>;
/** What an operator sends (PUT /v1/deployments/<id>/edge-loop); the version defaults to this one. */
export const SetEdgeLoopPolicyRequest = EdgeLoopPolicy.extend({
  policy_version: z.literal(EDGE_LOOP_POLICY_VERSION).default(EDGE_LOOP_POLICY_VERSION),
});
export type SetEdgeLoopPolicyRequest = z.input<typeof SetEdgeLoopPolicyRequest>;

/** Parse a policy received inside a deploy message. Throws E_PROTOCOL (unknown version, bad field). */
export function parseEdgeLoopPolicy(raw: unknown): EdgeLoopPolicy {
  const v = (raw as { policy_version?: unknown } | null)?.policy_version;
  if (v !== EDGE_LOOP_POLICY_VERSION)
    throw new VergeError(
      'E_PROTOCOL',
      `edge-loop policy version ${String(v)}; this agent reads version ${EDGE_LOOP_POLICY_VERSION}`,
    );
  const r = EdgeLoopPolicy.safeParse(raw);
  if (!r.success)
    throw new VergeError('E_PROTOCOL', `invalid edge-loop policy: ${z.prettifyError(r.error).split('\n').join('; ')}`);
  return r.data;
}

// ---- collected items and their upload ---------------------------------------------------------

export const COLLECT_REASONS = Object.freeze(['sample', 'top1', 'margin', 'entropy', 'offload'] as const);
export const CollectReason = z.enum(COLLECT_REASONS);
export type CollectReason = z.infer<typeof CollectReason>;
export const ItemId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'item id: 8-64 chars of [A-Za-z0-9_-]');
/** Largest class index an item's prediction or label may carry. */
export const MAX_CLASS_INDEX = 1_000_000;

/** One collected input as the device saw it: what was predicted, how sure, and why it was kept. */
export const CollectedItemMeta = z.object({
  id: ItemId,
  model: z.object({ name: ModelName, version: SemverString }),
  deployment_id: z.string().max(64).nullable().default(null),
  /** Input name of the model the tensor was fed to. */
  input: z.string().max(256),
  created_at: EpochMs,
  reason: CollectReason,
  predicted: z.number().int().min(0).max(MAX_CLASS_INDEX),
  top1: z.number().min(0).max(1),
  margin: z.number().min(0).max(1),
  entropy: z.number().min(0),
  /** The cloud model's answer, when the item was offloaded. */
  cloud_predicted: z.number().int().min(0).max(MAX_CLASS_INDEX).nullable().default(null),
});
export type CollectedItemMeta = z.infer<typeof CollectedItemMeta>;

export const EDGE_LOOP_BATCH_VERSION = 1;
/** Items per upload batch: bounds the work of one request on both sides. */
export const MAX_UPLOAD_ITEMS = 256;
/** Bytes per upload batch (a batch of 256 raw 3×224×224 images would not fit: they go in several). */
export const MAX_UPLOAD_BYTES = 16 * 2 ** 20;
const MAX_META_BYTES = 4096;
const BATCH_MAGIC = [0x56, 0x4c] as const;

export interface UploadItem {
  meta: CollectedItemMeta;
  frame: Uint8Array;
}

export function encodeUploadBatch(items: readonly UploadItem[]): Uint8Array {
  if (items.length > MAX_UPLOAD_ITEMS)
    throw new VergeError('E_BAD_ARGUMENT', `upload batch of ${items.length} items exceeds ${MAX_UPLOAD_ITEMS}`);
  const metas = items.map((i) => new TextEncoder().encode(JSON.stringify(CollectedItemMeta.parse(i.meta))));
  const size = 8 + items.reduce((s, it, k) => s + 8 + metas[k]!.length + it.frame.length, 0);
  if (size > MAX_UPLOAD_BYTES)
    throw new VergeError('E_BAD_ARGUMENT', `upload batch of ${fmtInt(size)} bytes exceeds ${fmtInt(MAX_UPLOAD_BYTES)}`);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set([...BATCH_MAGIC, EDGE_LOOP_BATCH_VERSION, 0]);
  view.setUint32(4, items.length, true);
  let o = 8;
  items.forEach((it, k) => {
    view.setUint32(o, metas[k]!.length, true);
    out.set(metas[k]!, o + 4);
    o += 4 + metas[k]!.length;
    view.setUint32(o, it.frame.length, true);
    out.set(it.frame, o + 4);
    o += 4 + it.frame.length;
  });
  return out;
}

/**
 * Parse a batch. A malformed container throws E_DATA_INVALID (nothing of it is stored); an item
 * whose metadata is invalid is returned with `error` so the others still land.
 */
export function decodeUploadBatch(bytes: Uint8Array): {
  items: (UploadItem | { id: string | null; error: string })[];
} {
  const bad = (m: string) => new VergeError('E_DATA_INVALID', `upload batch: ${m}`);
  if (bytes.length > MAX_UPLOAD_BYTES) throw bad(`${fmtInt(bytes.length)} bytes exceed ${fmtInt(MAX_UPLOAD_BYTES)}`);
  if (bytes.length < 8 || bytes[0] !== BATCH_MAGIC[0] || bytes[1] !== BATCH_MAGIC[1]) throw bad('bad magic');
  if (bytes[2] !== EDGE_LOOP_BATCH_VERSION)
    throw bad(`version ${bytes[2]}; this cloud reads ${EDGE_LOOP_BATCH_VERSION}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(4, true);
  if (count > MAX_UPLOAD_ITEMS) throw bad(`${count} items exceed ${MAX_UPLOAD_ITEMS}`);
  const items: (UploadItem | { id: string | null; error: string })[] = [];
  let o = 8;
  for (let k = 0; k < count; k++) {
    if (o + 4 > bytes.length) throw bad(`ends inside item ${k}`);
    const m = view.getUint32(o, true);
    if (m > MAX_META_BYTES || o + 4 + m + 4 > bytes.length) throw bad(`item ${k} metadata overruns the batch`);
    const metaBytes = bytes.subarray(o + 4, o + 4 + m);
    o += 4 + m;
    const f = view.getUint32(o, true);
    if (o + 4 + f > bytes.length) throw bad(`item ${k} frame overruns the batch`);
    const frame = bytes.subarray(o + 4, o + 4 + f);
    o += 4 + f;
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(metaBytes));
    } catch {
      items.push({ id: null, error: `item ${k}: metadata is not JSON` });
      continue;
    }
    const r = CollectedItemMeta.safeParse(json);
    if (!r.success) {
      const id = (json as { id?: unknown })?.id;
      items.push({
        id: typeof id === 'string' && ItemId.safeParse(id).success ? id : null,
        error: `item ${k}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      });
      continue;
    }
    items.push({ meta: r.data, frame });
  }
  if (o !== bytes.length) throw bad(`${bytes.length - o} bytes after the last item`);
  return { items };
}

export const UploadResponse = z.object({
  /** Stored now. */
  accepted: z.array(z.string()),
  /** Stored by an earlier upload (a retry): the agent treats them as delivered. */
  duplicates: z.array(z.string()),
  /** Refused for good (bad frame, unknown codec): the agent keeps them locally, marked, and does not resend. */
  rejected: z.array(z.object({ id: z.string().nullable(), code: z.string(), message: z.string() })),
});
export type UploadResponse = z.infer<typeof UploadResponse>;

/** What the cloud can decode, for codec negotiation. */
export const UplinkCodecsResponse = z.object({
  codecs: z.array(z.string()),
  /** Learned codecs (`name@version`) whose decoder the cloud holds. */
  learned: z.array(z.string()),
});
export type UplinkCodecsResponse = z.infer<typeof UplinkCodecsResponse>;

export const LABEL_SOURCES = Object.freeze(['operator', 'cloud-model', 'device'] as const);

export const CollectedItem = CollectedItemMeta.extend({
  device_id: DeviceIdSchema,
  received_at: EpochMs,
  codec: z.string(),
  dims: z.array(z.number().int()),
  frame_bytes: z.number().int(),
  label: z.number().int().nullable(),
  label_source: z.enum(LABEL_SOURCES).nullable(),
});
export type CollectedItem = z.infer<typeof CollectedItem>;
export const CollectedItemsResponse = z.object({ items: z.array(CollectedItem), total: z.number().int() });

/** Labels given in one request at most (`verge label set --file` sends larger files in several). */
export const MAX_LABELS_PER_REQUEST = 10_000;
/** Unknown items named in a LabelItemsResponse at most (all are counted). */
export const MAX_UNKNOWN_NAMED = 100;

export const LabelItemsRequest = z.object({
  labels: z
    .array(z.object({ device_id: DeviceIdSchema, id: ItemId, label: z.number().int().min(0).max(MAX_CLASS_INDEX) }))
    .min(1)
    .max(MAX_LABELS_PER_REQUEST),
  /** Only label items of this model; the others count as unknown (a guard against a wrong item list). */
  model: ModelName.optional(),
});
export type LabelItemsRequest = z.infer<typeof LabelItemsRequest>;
export const LabelItemsResponse = z.object({
  labelled: z.number().int(),
  unknown: z.number().int(),
  /** The first MAX_UNKNOWN_NAMED items that were not found (or not of `model`). */
  unknown_items: z.array(z.object({ device_id: z.string(), id: z.string() })).optional(),
});
export type LabelItemsResponse = z.infer<typeof LabelItemsResponse>;

/** Route patterns of the loop's API. */
export const EDGE_LOOP_ROUTES = Object.freeze({
  policy: `${HTTP_API_ROOT}/deployments/:id/edge-loop`,
  codecs: `${HTTP_API_ROOT}/edge-loop/codecs`,
  items: `${HTTP_API_ROOT}/edge-loop/items`,
  labels: `${HTTP_API_ROOT}/edge-loop/labels`,
  /** Decoded items as a dataset: the upload-batch format with lossless frames (verge data pull --from-fleet). */
  export: `${HTTP_API_ROOT}/edge-loop/export`,
  /** POST (device): drift summaries; GET (operator) ?model=&since=: the drift score. */
  drift: `${HTTP_API_ROOT}/edge-loop/drift`,
  /** GET (operator) ?since=: the drift score of every model that reported (verge status shows it). */
  driftModels: `${HTTP_API_ROOT}/edge-loop/drift/models`,
  /** GET (operator): the control plane's retrain scheduler — policy, decisions, runs (RetrainSchedulerStatus). */
  retrain: `${HTTP_API_ROOT}/edge-loop/retrain`,
  /** PUT (admin) / GET: a model version's training reference (DriftSummary); `:ref` = name@version. */
  reference: `${HTTP_API_ROOT}/edge-loop/references/:ref`,
} as const);

export const EDGE_LOOP_PATHS = Object.freeze({
  policy: (id: string) => fillRoute(EDGE_LOOP_ROUTES.policy, { id }),
  codecs: EDGE_LOOP_ROUTES.codecs,
  items: EDGE_LOOP_ROUTES.items,
  labels: EDGE_LOOP_ROUTES.labels,
  export: EDGE_LOOP_ROUTES.export,
  drift: EDGE_LOOP_ROUTES.drift,
  driftModels: EDGE_LOOP_ROUTES.driftModels,
  retrain: EDGE_LOOP_ROUTES.retrain,
  reference: (ref: string) => fillRoute(EDGE_LOOP_ROUTES.reference, { ref }),
} as const);

// ---- drift ----------------------------------------------------------------------------------

/**
 * Input drift summary: histograms of two per-sample features (mean and standard deviation of the
 * input values: brightness and contrast for images, level and spread for sensor windows) over
 * fixed bins, and the predicted-class counts. Agents send one per model and window
 * (POST /v1/edge-loop/drift); a model version's training reference has the same shape
 * (PUT /v1/edge-loop/references/<name>@<version>); the cloud compares them with PSI.
 */
export const DRIFT_FEATURES = deepFreeze({
  /** Per-sample mean over [0, 1] (inputs scaled to [0, 1], as verge's image sources load them). */
  mean: { lo: 0, hi: 1, bins: 10 },
  /** Per-sample standard deviation over [0, 0.5] (the largest a [0, 1] signal can have). */
  std: { lo: 0, hi: 0.5, bins: 10 },
} as const);
export type DriftFeature = keyof typeof DRIFT_FEATURES;
/** PSI above this is a significant shift (the usual credit-scoring rule of thumb: < 0.1 stable, 0.1-0.25 moderate). */
export const DRIFT_PSI_THRESHOLD = 0.25;
export const MAX_DRIFT_CLASSES = 1000;

export const DriftSummary = z.object({
  samples: z.number().int().nonnegative(),
  features: z.object({
    mean: z.array(z.number().int().nonnegative()).length(DRIFT_FEATURES.mean.bins),
    std: z.array(z.number().int().nonnegative()).length(DRIFT_FEATURES.std.bins),
  }),
  class_counts: z.array(z.number().int().nonnegative()).max(MAX_DRIFT_CLASSES),
});
export type DriftSummary = z.infer<typeof DriftSummary>;

export const DriftReport = z.object({
  model: ModelName,
  version: SemverString,
  device_id: DeviceIdSchema,
  window_start: EpochMs,
  window_end: EpochMs,
  summary: DriftSummary,
});
export type DriftReport = z.infer<typeof DriftReport>;
export const DriftUploadRequest = z.object({ reports: z.array(DriftReport).min(1).max(100) });

export const DriftScore = z.object({
  model: z.string(),
  version: z.string(),
  since: EpochMs,
  samples: z.number().int(),
  /** PSI per feature and on the class mix; null where the reference or the window has nothing. */
  psi: z.object({ mean: z.number().nullable(), std: z.number().nullable(), class_mix: z.number().nullable() }),
  /** The largest PSI: the drift score. */
  score: z.number().nullable(),
  threshold: z.number(),
  drifted: z.boolean(),
  devices: z.number().int(),
  /** The same score per device (its own summaries against the reference), most drifted first. */
  by_device: z
    .array(
      z.object({
        device_id: DeviceIdSchema,
        samples: z.number().int(),
        score: z.number().nullable(),
        drifted: z.boolean(),
      }),
    )
    .optional(),
});
export type DriftScore = z.infer<typeof DriftScore>;

/** GET /v1/edge-loop/drift/models: every model with drift reports in the window, scored or why not. */
export const DriftOverview = z.object({
  since: EpochMs,
  models: z.array(DriftScore),
  /** Models with reports but no reference to compare with (PUT a reference; verge retrain stores one). */
  unscored: z.array(
    z.object({ model: z.string(), version: z.string(), samples: z.number().int(), reason: z.string() }),
  ),
});
export type DriftOverview = z.infer<typeof DriftOverview>;

/**
 * GET /v1/edge-loop/retrain: the control plane's retrain scheduler (`verge cloud --auto-retrain`;
 * off: `enabled` false, `policy` null). `decisions`: the latest policy decision per drifted model;
 * `runs`: the newest runs first (what was published and rolled out, or why a run failed).
 */
export const RetrainSchedulerStatus = z.object({
  enabled: z.boolean(),
  policy: z
    .object({
      drift_threshold: z.number(),
      window_s: z.number(),
      cooldown_s: z.number(),
      min_labelled: z.number().int(),
      canary_percent: z.number(),
      interval_s: z.number(),
      max_runs_per_day: z.number().int(),
      epochs: z.number().int(),
    })
    .nullable(),
  last_check: EpochMs.nullable(),
  running: z.object({ model: z.string(), from: z.string(), started_at: EpochMs }).nullable(),
  decisions: z.array(
    z.object({
      model: z.string(),
      at: EpochMs,
      due: z.boolean(),
      version: z.string().nullable(),
      score: z.number().nullable(),
      reason: z.string(),
    }),
  ),
  runs: z.array(
    z.object({
      model: z.string(),
      from: z.string(),
      started_at: EpochMs,
      finished_at: EpochMs.nullable(),
      published: z.string().nullable(),
      deployment: z.string().nullable(),
      holdout: z.object({ before: z.number(), after: z.number() }).nullable(),
      error: z.string().nullable(),
    }),
  ),
});
export type RetrainSchedulerStatus = z.infer<typeof RetrainSchedulerStatus>;

export function emptyDriftSummary(classes = 0): DriftSummary {
  return {
    samples: 0,
    features: {
      mean: new Array<number>(DRIFT_FEATURES.mean.bins).fill(0),
      std: new Array<number>(DRIFT_FEATURES.std.bins).fill(0),
    },
    class_counts: new Array<number>(classes).fill(0),
  };
}

function bin(f: (typeof DRIFT_FEATURES)[DriftFeature], v: number): number {
  const k = Math.floor(((v - f.lo) / (f.hi - f.lo)) * f.bins);
  return Math.min(f.bins - 1, Math.max(0, Number.isFinite(k) ? k : 0));
}

/** Add `count` samples of `per` values each (row-major in `x`) and their predicted classes to `s` (mutates). */
export function addToDriftSummary(
  s: DriftSummary,
  x: ArrayLike<number>,
  count: number,
  predicted: ArrayLike<number> | null,
): void {
  const per = count ? x.length / count : 0;
  for (let i = 0; i < count; i++) {
    let sum = 0;
    let sq = 0;
    for (let j = 0; j < per; j++) {
      const v = Number(x[i * per + j]);
      sum += v;
      sq += v * v;
    }
    const mean = sum / Math.max(1, per);
    const std = Math.sqrt(Math.max(0, sq / Math.max(1, per) - mean * mean));
    s.features.mean[bin(DRIFT_FEATURES.mean, mean)]!++;
    s.features.std[bin(DRIFT_FEATURES.std, std)]!++;
    const c = predicted ? Number(predicted[i]) : -1;
    if (c >= 0 && c < MAX_DRIFT_CLASSES) {
      while (s.class_counts.length <= c) s.class_counts.push(0);
      s.class_counts[c]!++;
    }
  }
  s.samples += count;
}

export function mergeDriftSummaries(a: DriftSummary, b: DriftSummary): DriftSummary {
  const n = Math.max(a.class_counts.length, b.class_counts.length);
  return {
    samples: a.samples + b.samples,
    features: {
      mean: a.features.mean.map((v, i) => v + b.features.mean[i]!),
      std: a.features.std.map((v, i) => v + b.features.std[i]!),
    },
    class_counts: Array.from({ length: n }, (_, i) => (a.class_counts[i] ?? 0) + (b.class_counts[i] ?? 0)),
  };
}

/** Floor of a bin's share in PSI, so an empty bin does not make the score infinite (a common choice). */
const PSI_EPSILON = 1e-4;

/** Population stability index of `actual` against `expected` counts; null when either is empty. */
export function psi(expected: readonly number[], actual: readonly number[]): number | null {
  const n = Math.max(expected.length, actual.length);
  const te = expected.reduce((a, b) => a + b, 0);
  const ta = actual.reduce((a, b) => a + b, 0);
  if (te === 0 || ta === 0) return null;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.max(PSI_EPSILON, (expected[i] ?? 0) / te);
    const a = Math.max(PSI_EPSILON, (actual[i] ?? 0) / ta);
    s += (a - e) * Math.log(a / e);
  }
  return s;
}
