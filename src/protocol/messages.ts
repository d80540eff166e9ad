/**
 * MQTT message schemas (zod), one per verb. Every message carries the envelope
 * `{v, id, ts}`: protocol version, a unique message id (receivers deduplicate on it) and the
 * sender's clock in epoch milliseconds. Field names are snake_case on the wire, like the CLI's JSON.
 * Unknown fields are dropped on parse, so adding an optional field is backward compatible.
 */
import { z } from 'zod';
import { VergeError } from '../errors.ts';
import { DEVICE_TO_CLOUD_VERBS, isDeviceId, type DeviceVerb } from './topics.ts';
import { PRECISIONS } from './precisions.ts';
import {
  MAX_ACCELERATORS,
  MAX_DESIRED_MODELS,
  MAX_DEVICE_MESSAGE_BYTES,
  MAX_LOADED_MEMORY_POINTS,
  MAX_MODEL_VARIANTS,
  MAX_MQTT_PACKET_BYTES,
  MAX_RECEIPT_IDS,
  MAX_RESULT_KEYS,
  MAX_SERVED_MODELS,
  MAX_TAGS,
  MAX_TELEMETRY_BATCH,
  maxEntries,
} from './limits.ts';
import { compileFastPath, FAIL, type FastPath } from './fast-parse.ts';
import { assertNoNul } from './text-safety.ts';
import { PROTOCOL_VERSION } from './version.ts';

export const MessageId = z.string().regex(/^[A-Za-z0-9_.:-]{8,128}$/, 'message id: 8-128 chars of [A-Za-z0-9_.:-]');
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'sha256: 64 lowercase hex digits');
export const DeviceIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{2,63}$/);
/**
 * The shape of the ids the control plane assigns (`dev-` and 12 hex digits). Device names may not
 * take it, so a name can never be mistaken for another device's id: ids and names are separate
 * namespaces, and a target or path segment of this shape always means an id.
 */
export const ASSIGNED_DEVICE_ID = /^dev-[0-9a-f]{12}$/;
export function isAssignedDeviceId(s: string): boolean {
  return ASSIGNED_DEVICE_ID.test(s);
}
export const ModelName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'model name: letters, digits, _ . -');
/** Semantic version (validated with `semver` by the registry; the schema only bounds the shape). */
export const SemverString = z.string().min(5).max(64);
export const EpochMs = z.number().int().nonnegative();
export const Tags = z
  .record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), z.string().max(256))
  .refine(...maxEntries(MAX_TAGS, 'tags'));

export { PRECISIONS };
export const Precision = z.enum(PRECISIONS);
export type Precision = z.infer<typeof Precision>;

export const Envelope = z.object({
  v: z.literal(PROTOCOL_VERSION),
  id: MessageId,
  ts: EpochMs,
});
export type Envelope = z.infer<typeof Envelope>;

/** What an agent reports about its hardware; used for variant selection and profile targeting. */
export const DeviceProfile = z.object({
  /** Operator-chosen class name (e.g. `edge-small`) that variants can target with `--profile`. */
  class: z.string().max(64).optional(),
  arch: z.string().max(32),
  platform: z.string().max(32),
  cpu: z.object({ model: z.string().max(128), cores: z.number().int().positive() }),
  memory_mb: z.number().int().positive(),
  precisions: z.array(Precision).min(1).max(PRECISIONS.length),
  accelerators: z.array(z.string().max(64)).max(MAX_ACCELERATORS).default([]),
});
export type DeviceProfile = z.infer<typeof DeviceProfile>;

/**
 * The memory a variant takes on a device: the resident bytes an onnxruntime session of it adds once
 * loaded and run on a batch of `batch` (weights, their pre-packed copies, the activation arena),
 * measured by whoever published it (runtime's measureLoadedMemory) — what the agent checks against
 * its memory budget. The file size does not say it: fp16 loads as large as fp32 on a CPU, a pruned
 * or n-bit model is rebuilt dense.
 */
export const LoadedMemory = z
  .array(
    z.object({
      batch: z.number().int().positive().max(65_536),
      bytes: z
        .number()
        .int()
        .nonnegative()
        .max(2 ** 48),
    }),
  )
  .min(1)
  .max(MAX_LOADED_MEMORY_POINTS)
  .refine((a) => new Set(a.map((p) => p.batch)).size === a.length, 'loaded_memory: one entry per batch size');
export type LoadedMemory = z.infer<typeof LoadedMemory>;

/** One downloadable variant of a model version. `url` is relative to the cloud's base URL. */
export const ArtifactRef = z.object({
  variant: z.string().max(64),
  precision: Precision,
  /** Profile class this variant is built for; absent = any device. */
  profile: z.string().max(64).nullable().default(null),
  sha256: Sha256Hex,
  size: z.number().int().nonnegative(),
  url: z.string().max(512),
  /** base64 ed25519 signature over the 32 raw bytes of the sha256 digest (see signature.ts). */
  signature: z.string().max(128),
  key_id: z.string().max(64),
  /**
   * A confidential variant: the artifact is AES-256-GCM ciphertext (artifact-crypto.ts); the device
   * asks GET /v1/artifacts/<sha256>/key for its content key, wrapped to the device's X25519 key.
   * Absent: the artifact is the plain ONNX file.
   */
  encryption: z.literal('aes-256-gcm').optional(),
  /** Measured loaded memory (see LoadedMemory). Absent: not measured — the agent then estimates it from `size`. */
  loaded_memory: LoadedMemory.optional(),
});
export type ArtifactRef = z.infer<typeof ArtifactRef>;

export const DesiredModel = z.object({
  deployment_id: z.string().max(64),
  name: ModelName,
  version: SemverString,
  /** Variants to choose from; the agent picks one for its profile (selectVariant). */
  variants: z.array(ArtifactRef).min(1).max(MAX_MODEL_VARIANTS),
  /**
   * The deployment's edge-loop policy (collection, offload): kept opaque here and parsed by
   * protocol/edge-loop.ts, so a policy of an unknown version never blocks the deployment itself.
   */
  edge_loop: z.record(z.string().max(64), z.unknown()).optional(),
});
export type DesiredModel = z.infer<typeof DesiredModel>;

/**
 * cloud → device, retained: the device's complete desired state. A device converges to it:
 * loads every listed model (atomically swapping versions) and unloads models not listed.
 * `generation` increases with every change; a device ignores a message older than what it has.
 */
export const DeployMessage = Envelope.extend({
  device_id: DeviceIdSchema,
  generation: z.number().int().nonnegative(),
  models: z.array(DesiredModel).max(MAX_DESIRED_MODELS),
  /**
   * `seq` of the cloud's signing key set (GET /v1/signing-keys) when this was sent: a device whose
   * copy is older fetches the set before verifying, so it learns rotations and revocations first.
   */
  key_set: z.number().int().nonnegative().optional(),
});
export type DeployMessage = z.infer<typeof DeployMessage>;

/** cloud → device, not retained: one-off instructions. */
export const COMMANDS = Object.freeze(['revoked', 'resync', 'report', 'receipt'] as const);
export const CommandMessage = Envelope.extend({
  device_id: DeviceIdSchema,
  /**
   * revoked: credentials were revoked, stop reconnecting; resync: re-send status and acks; report:
   * send a heartbeat now; receipt: the telemetry records `telemetry` (message ids) are stored — the
   * device may delete them (sent at QoS 0 to devices whose records asked for it, `receipt: true`).
   */
  command: z.enum(COMMANDS),
  reason: z.string().max(512).optional(),
  telemetry: z.array(MessageId).max(MAX_RECEIPT_IDS).optional(),
  /**
   * receipt: the cloud accepts batched telemetry (TelemetryBatchMessage) of up to this many
   * records. Absent: it does not (an older cloud) — the device sends one record per message.
   */
  telemetry_batch: z.number().int().min(1).max(MAX_TELEMETRY_BATCH).optional(),
});
export type CommandMessage = z.infer<typeof CommandMessage>;

/** Scalars a federated strategy sends a client (local_epochs, lr, proximal_mu, dp_clip, …). */
export const FlClientConfig = z
  .record(z.string().regex(/^[a-z0-9_]{1,64}$/), z.union([z.number(), z.string().max(256), z.boolean()]))
  .refine((r) => Object.keys(r).length <= 32, 'at most 32 config entries');

/** Base64 of a 32-byte X25519 public key (or of any 32-byte key: an artifact's content key). */
export const X25519Key = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, '32-byte key, base64');
/** The largest secure-aggregation round (GF(2⁸) Shamir shares: 255 holders). */
export const SECAGG_MAX_PARTIES = 255;
const SecAggIndex = z.number().int().min(1).max(SECAGG_MAX_PARTIES);

/**
 * The secure-aggregation part of a `fit` task (Bonawitz et al. 2017), one phase at a time; the
 * retained task is re-sent with the next phase. `advertise`: train, then POST two public keys;
 * `share`: POST sealed Shamir shares for every peer of `roster`; `mask`: open the `inbox` bundles,
 * POST the masked input; `unmask`: POST the shares that remove the masks of `survivors`' sum.
 */
export const FlSecAggTask = z.object({
  phase: z.enum(['advertise', 'share', 'mask', 'unmask']),
  /** This device's party number (the sign of a pairwise mask follows it). */
  index: SecAggIndex,
  /** Binds keys, bundles and masks to this job and round. */
  context: z.string().max(160),
  threshold: z.number().int().min(2).max(SECAGG_MAX_PARTIES),
  /** Fixed-point fraction bits and clipping bound of input values. */
  bits: z.number().int().min(1).max(30),
  bound: z.number().positive().max(1e6),
  /** Values each party contributes: the update plus its weight. */
  length: z
    .number()
    .int()
    .min(2)
    .max(64 * 1024 * 1024),
  /** A party's weight is min(examples, weight_cap)/weight_cap, or 1 when `uniform` (DP). */
  weight_cap: z.number().int().positive(),
  uniform: z.boolean(),
  roster: z
    .array(z.object({ index: SecAggIndex, encryption_key: X25519Key, mask_key: X25519Key }))
    .max(SECAGG_MAX_PARTIES)
    .optional(),
  inbox: z
    .array(z.object({ from: SecAggIndex, bundle: z.string().max(512) }))
    .max(SECAGG_MAX_PARTIES)
    .optional(),
  survivors: z.array(SecAggIndex).max(SECAGG_MAX_PARTIES).optional(),
  /** Path (relative to the cloud URL) to POST this phase's message to. */
  path: z.string().max(256),
});
export type FlSecAggTask = z.infer<typeof FlSecAggTask>;

/**
 * cloud → device, retained: the device's current federated-learning task. `fit`: download the
 * global model, evaluate it on the local hold-out, train, upload the update before `deadline`;
 * `evaluate`: report the hold-out evaluation only; `cancel`: stop work on the job. A device does a
 * (job, round) at most once; the upload carries `token` inside its signed payload (replays fail).
 */
export const FlTaskMessage = Envelope.extend({
  device_id: DeviceIdSchema,
  job_id: z.string().regex(/^fl-[a-z0-9]{6,32}$/),
  round: z.number().int().min(1).max(100_000),
  task: z.enum(['fit', 'evaluate', 'cancel']),
  deadline: EpochMs,
  /** The round's global model (ONNX), content-addressed and signed like a deployment artifact. */
  model: ArtifactRef.pick({ sha256: true, size: true, url: true, signature: true, key_id: true }).optional(),
  /** sha256 of the weight layout (names and dims), so a client detects an incompatible model. */
  layout: Sha256Hex.optional(),
  config: FlClientConfig.default({}),
  /** Update codec the client must use: none | int8 | topk:F, optionally +deflate. */
  compress: z.string().max(32).default('none'),
  /** Path (relative to the cloud URL) to POST the update or evaluation to. */
  upload_path: z.string().max(256).optional(),
  token: z
    .string()
    .regex(/^[A-Za-z0-9_-]{16,64}$/)
    .optional(),
  /** Secure aggregation: the update never leaves the device unmasked (see FlSecAggTask). */
  secagg: FlSecAggTask.optional(),
});
export type FlTaskMessage = z.infer<typeof FlTaskMessage>;

export const ServedModel = z.object({
  name: ModelName,
  version: SemverString,
  variant: z.string().max(64),
  sha256: Sha256Hex,
  deployment_id: z.string().max(64).nullable().default(null),
});
export type ServedModel = z.infer<typeof ServedModel>;

/** device → cloud, QoS 0, every HEARTBEAT_INTERVAL_MS: liveness, profile and what it serves. */
export const HeartbeatMessage = Envelope.extend({
  device_id: DeviceIdSchema,
  uptime_s: z.number().nonnegative(),
  profile: DeviceProfile,
  models: z.array(ServedModel).max(MAX_SERVED_MODELS),
  /** Telemetry records waiting in the agent's offline queue. */
  queue_depth: z.number().int().nonnegative().default(0),
  agent_version: z.string().max(64).optional(),
});
export type HeartbeatMessage = z.infer<typeof HeartbeatMessage>;

/** device → cloud, retained, also the agent's MQTT last will (state offline). */
export const StatusMessage = Envelope.extend({
  device_id: DeviceIdSchema,
  state: z.enum(['online', 'offline']),
  reason: z.string().max(512).optional(),
});
export type StatusMessage = z.infer<typeof StatusMessage>;

/** Progress of one device on one deployment, in order; `failed` and `rejected` are final. */
export const ACK_STATES = Object.freeze([
  'received',
  'downloading',
  'verified',
  'loaded',
  'failed',
  'rejected',
] as const);
export const AckState = z.enum(ACK_STATES);
export type AckState = z.infer<typeof AckState>;

export const ErrorInfo = z.object({ code: z.string().max(64), message: z.string().max(1024) });

/**
 * device → cloud, QoS 1. `rejected` = artifact failed sha256 or signature verification
 * (error.code E_INTEGRITY / E_SIGNATURE); `failed` = could not download or load.
 */
export const AckMessage = Envelope.extend({
  device_id: DeviceIdSchema,
  deployment_id: z.string().max(64),
  model: z.object({ name: ModelName, version: SemverString }),
  variant: z.string().max(64).optional(),
  sha256: Sha256Hex.optional(),
  state: AckState,
  error: ErrorInfo.optional(),
});
export type AckMessage = z.infer<typeof AckMessage>;

/**
 * Latency histogram bucket upper bounds in ms (Prometheus-style, cumulative is NOT used on the
 * wire: counts[i] = observations in (bounds[i-1], bounds[i]], counts[bounds.length] = above the
 * last bound). Range chosen to cover ~0.1 ms int8 MLPs to multi-second cold loads.
 */
export const LATENCY_BUCKETS_MS = Object.freeze([
  0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000,
] as const);

/**
 * The bucket arrays are checked by one loop each rather than a check per element: every telemetry
 * message carries ~30 of them, and per-element checks were two thirds of decoding one (4.8 of
 * 7.3 µs; 2.0 with the loops — the same values accepted: z.number() already refuses NaN and ±∞).
 */
export const LatencyHistogram = z
  .object({
    bounds: z
      .array(z.number())
      .max(64)
      .refine((a) => a.every((x) => x > 0), 'bounds must be positive'),
    counts: z
      .array(z.number())
      .max(65)
      .refine((a) => a.every((x) => Number.isSafeInteger(x) && x >= 0), 'counts must be non-negative integers'),
    sum: z.number().nonnegative(),
    count: z.number().int().nonnegative(),
  })
  .refine((h) => h.counts.length === h.bounds.length + 1, 'counts must have bounds.length + 1 entries');
export type LatencyHistogram = z.infer<typeof LatencyHistogram>;

/**
 * device → cloud, QoS 1, at least once (queued offline by the agent; the cloud counts each `id`
 * once). One record covers one model over one window. With `receipt: true` the device keeps the
 * record after the broker's PUBACK until the cloud's `receipt` command names it as stored, and
 * sends it again when none comes: end to end, so no broker setting or failure between the two can
 * lose it (docs/security.md, finding 8).
 */
export const TelemetryMessage = Envelope.extend({
  device_id: DeviceIdSchema,
  window_start: EpochMs,
  window_end: EpochMs,
  model: z.object({ name: ModelName, version: SemverString, variant: z.string().max(64) }),
  deployment_id: z.string().max(64).nullable().default(null),
  inferences: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  latency_ms: LatencyHistogram,
  /** Result summary, e.g. predicted class → count. */
  results: z
    .record(z.string().max(64), z.number().int().nonnegative())
    .refine(...maxEntries(MAX_RESULT_KEYS, 'result keys'))
    .optional(),
  /** Ask the cloud for a receipt once the record is stored (the sender keeps it until then). */
  receipt: z.boolean().optional(),
});
export type TelemetryMessage = z.infer<typeof TelemetryMessage>;

/**
 * device → cloud on the `telemetry` topic, QoS 1: several telemetry records in one MQTT message
 * (one packet, one PUBACK, instead of one each), sent only to a cloud that said it accepts them
 * (`telemetry_batch` at enrollment or in a receipt). Each record is a complete TelemetryMessage
 * with its own `id`: the cloud validates, deduplicates, stores and names in receipts each one on
 * its own — an invalid record is refused alone, the others are stored. The message as a whole is
 * bounded by MAX_DEVICE_MESSAGE_BYTES and MAX_TELEMETRY_BATCH records; a message with a `records`
 * key is a batch, one without is a single record (decodeTelemetry).
 */
export const TelemetryBatchMessage = Envelope.extend({
  device_id: DeviceIdSchema,
  /** TelemetryMessage each, checked one by one (decodeTelemetry). */
  records: z.array(z.unknown()).min(1).max(MAX_TELEMETRY_BATCH),
});
export type TelemetryBatchMessage = z.infer<typeof TelemetryBatchMessage>;

/** Schema per verb, for encode/decode. */
export const MESSAGE_SCHEMAS = Object.freeze({
  deploy: DeployMessage,
  command: CommandMessage,
  fl: FlTaskMessage,
  heartbeat: HeartbeatMessage,
  telemetry: TelemetryMessage,
  status: StatusMessage,
  ack: AckMessage,
} as const satisfies Record<DeviceVerb, z.ZodType>);

/**
 * Per verb, the schema compiled to a fast path (fast-parse.ts) for received JSON and for messages
 * being encoded: it accepts only what the schema accepts, with the same output, and leaves
 * everything else to zod. null: zod only.
 */
const FAST_PATHS: Readonly<Record<DeviceVerb, FastPath | null>> = Object.freeze(
  Object.fromEntries(
    Object.entries(MESSAGE_SCHEMAS).map(([verb, schema]) => [verb, compileFastPath(schema)]),
  ) as Record<DeviceVerb, FastPath | null>,
);

export type MessageOf<V extends DeviceVerb> = z.infer<(typeof MESSAGE_SCHEMAS)[V]>;
/** What a sender fills in; `v`, `id`, `ts` default when absent. */
export type MessageInput<V extends DeviceVerb> = Omit<z.input<(typeof MESSAGE_SCHEMAS)[V]>, 'v' | 'id' | 'ts'> &
  Partial<Envelope>;

/** Default heartbeat period of agents; the cloud marks a device offline after HEARTBEAT_TIMEOUT_MS. */
export const HEARTBEAT_INTERVAL_MS = 10_000;
/** Three missed heartbeats (a common liveness rule, cf. MQTT keepalive × 1.5 grace). */
export const HEARTBEAT_TIMEOUT_MS = 3 * HEARTBEAT_INTERVAL_MS;

export function newMessageId(): string {
  // the Web Crypto global (Node ≥ 19 and browsers): protocol/ stays importable by the dashboard
  return globalThis.crypto.randomUUID();
}

/** Largest payload of a `verb` message in bytes: device → cloud messages are small, deploy messages may be larger. */
export function maxMessageBytes(verb: DeviceVerb): number {
  return (DEVICE_TO_CLOUD_VERBS as readonly string[]).includes(verb) ? MAX_DEVICE_MESSAGE_BYTES : MAX_MQTT_PACKET_BYTES;
}

function assertMessageSize(verb: DeviceVerb, bytes: number): void {
  const max = maxMessageBytes(verb);
  if (bytes > max)
    throw new VergeError('E_PROTOCOL', `${verb} message has ${bytes} bytes; at most ${max} are accepted`);
}

/**
 * `value` checked against `schema`: the fast path's output where it accepts; refused by it (or
 * none), zod decides, and says why. Throws E_PROTOCOL.
 */
function checked<T>(schema: z.ZodType, fast: FastPath | null, value: unknown, what: string): T {
  const out = fast?.(value) ?? FAIL;
  if (out !== FAIL) return out as T;
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new VergeError('E_PROTOCOL', `invalid ${what}: ${z.prettifyError(parsed.error).split('\n').join('; ')}`);
  return parsed.data as T;
}

/** `value` checked against `verb`'s schema (see checked). */
function validated<V extends DeviceVerb>(verb: V, value: unknown): MessageOf<V> {
  return checked<MessageOf<V>>(MESSAGE_SCHEMAS[verb], FAST_PATHS[verb], value, `${verb} message`);
}

/**
 * Validate and serialize a message for `verb`; fills the envelope. Throws E_PROTOCOL on invalid input.
 * Validated through the fast path too (zod when it does not accept): what it accepts serializes
 * as zod's output does (test/fuzz/fast-parse.test.ts, on values as code builds them) — a fleet's
 * heartbeats and the control plane's receipts are encoded many times a second.
 */
export function encodeMessage<V extends DeviceVerb>(verb: V, msg: MessageInput<V>): Buffer {
  const data = validated(verb, { v: PROTOCOL_VERSION, id: newMessageId(), ts: Date.now(), ...msg });
  const text = JSON.stringify(data);
  if (text.includes('\\u0000')) assertNoNul(data, `invalid ${verb} message`);
  const out = Buffer.from(text);
  assertMessageSize(verb, out.length);
  return out;
}

/** A received payload parsed as JSON: bounded first, then parsed. Throws E_PROTOCOL. */
function parsePayload(verb: DeviceVerb, payload: Buffer | string): { json: unknown; text: string } {
  // size first: a bounded schema still has to parse what it is given
  assertMessageSize(verb, typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length);
  const text = typeof payload === 'string' ? payload : payload.toString('utf8');
  try {
    return { json: JSON.parse(text) as unknown, text };
  } catch {
    throw new VergeError('E_PROTOCOL', `${verb} message is not JSON`);
  }
}

function assertVersion(json: unknown, what: string): void {
  const v = (json as { v?: unknown } | null)?.v;
  if (v !== PROTOCOL_VERSION)
    throw new VergeError('E_PROTOCOL', `${what} has protocol version ${String(v)}, expected ${PROTOCOL_VERSION}`);
}

/** `json` as a `verb` message; `nul`: its text holds a \u0000 escape. Throws E_PROTOCOL. */
function messageOf<V extends DeviceVerb>(verb: V, json: unknown, nul: boolean): MessageOf<V> {
  if (nul) assertNoNul(json, `invalid ${verb} message`);
  assertVersion(json, `${verb} message`);
  return validated(verb, json);
}

/** Parse and validate a received payload for `verb`. Throws E_PROTOCOL (bad JSON, wrong version, bad shape). */
export function decodeMessage<V extends DeviceVerb>(verb: V, payload: Buffer | string): MessageOf<V> {
  const { json, text } = parsePayload(verb, payload);
  // JSON can carry U+0000 only as the escape \u0000: walk the value only when that text occurs
  return messageOf(verb, json, text.includes('\\u0000'));
}

/** A received telemetry message: its valid records, and why each invalid one was refused. */
export interface DecodedTelemetry {
  records: TelemetryMessage[];
  /** One line per refused record of a batch (a single record that is invalid throws instead). */
  refused: string[];
  /** It was a TelemetryBatchMessage. */
  batch: boolean;
}

const TELEMETRY_BATCH_FAST = compileFastPath(TelemetryBatchMessage);

/**
 * Parse a payload of the `telemetry` topic: one TelemetryMessage, or a TelemetryBatchMessage whose
 * records are checked one by one — an invalid record (a bad field, a NUL, another device's id) is
 * refused alone. Throws E_PROTOCOL when the message as a whole is invalid (size, JSON, version,
 * envelope, or a single record).
 */
export function decodeTelemetry(payload: Buffer | string): DecodedTelemetry {
  const { json, text } = parsePayload('telemetry', payload);
  const nul = text.includes('\\u0000');
  if (json === null || typeof json !== 'object' || !Object.hasOwn(json, 'records'))
    return { records: [messageOf('telemetry', json, nul)], refused: [], batch: false };
  assertVersion(json, 'telemetry batch');
  const batch = checked<TelemetryBatchMessage>(TelemetryBatchMessage, TELEMETRY_BATCH_FAST, json, 'telemetry batch');
  const records: TelemetryMessage[] = [];
  const refused: string[] = [];
  for (const [i, r] of batch.records.entries()) {
    try {
      const m = messageOf('telemetry', r, nul);
      if (m.device_id !== batch.device_id) throw new VergeError('E_PROTOCOL', `record of device ${m.device_id}`);
      records.push(m);
    } catch (e) {
      refused.push(`record ${i}: ${(e as Error).message}`);
    }
  }
  return { records, refused, batch: true };
}

/** Bytes a TelemetryBatchMessage adds around its records at most (envelope, brackets; one comma per record). */
export const TELEMETRY_BATCH_ENVELOPE_BYTES = 200;

/**
 * A TelemetryBatchMessage of `deviceId` carrying `records`, each the payload of a telemetry message
 * as encodeMessage wrote it (validated then: put together as they are, not encoded again). Throws
 * E_PROTOCOL beyond MAX_TELEMETRY_BATCH records or MAX_DEVICE_MESSAGE_BYTES.
 */
export function encodeTelemetryBatch(deviceId: string, records: readonly Buffer[]): Buffer {
  if (!isDeviceId(deviceId)) throw new VergeError('E_PROTOCOL', `invalid device id '${deviceId}'`);
  if (records.length < 1 || records.length > MAX_TELEMETRY_BATCH)
    throw new VergeError(
      'E_PROTOCOL',
      `a telemetry batch has 1 to ${MAX_TELEMETRY_BATCH} records, not ${records.length}`,
    );
  const head = Buffer.from(
    `{"v":${PROTOCOL_VERSION},"id":"${newMessageId()}","ts":${Date.now()},"device_id":"${deviceId}","records":[`,
  );
  const parts: Buffer[] = [head];
  for (const [i, r] of records.entries()) {
    if (i > 0) parts.push(COMMA);
    parts.push(r);
  }
  parts.push(TAIL);
  const out = Buffer.concat(parts);
  assertMessageSize('telemetry', out.length);
  return out;
}
const COMMA = Buffer.from(',');
const TAIL = Buffer.from(']}');

/** Empty histogram with the standard buckets. */
export function emptyHistogram(): LatencyHistogram {
  return {
    bounds: [...LATENCY_BUCKETS_MS],
    counts: new Array(LATENCY_BUCKETS_MS.length + 1).fill(0),
    sum: 0,
    count: 0,
  };
}

/** Record one observation (mutates h). */
export function observeLatency(h: LatencyHistogram, ms: number): void {
  let i = h.bounds.findIndex((b) => ms <= b);
  if (i < 0) i = h.bounds.length;
  h.counts[i] = (h.counts[i] ?? 0) + 1;
  h.sum += ms;
  h.count += 1;
}

/** Add histograms with identical bounds. */
export function mergeHistograms(a: LatencyHistogram, b: LatencyHistogram): LatencyHistogram {
  if (a.bounds.length !== b.bounds.length || a.bounds.some((x, i) => x !== b.bounds[i])) {
    throw new VergeError('E_PROTOCOL', 'cannot merge latency histograms with different buckets');
  }
  return {
    bounds: [...a.bounds],
    counts: a.counts.map((c, i) => c + (b.counts[i] ?? 0)),
    sum: a.sum + b.sum,
    count: a.count + b.count,
  };
}

/** Upper bound of the bucket holding quantile q (0..1): a conservative latency estimate. Infinity when it falls above the last bound. */
export function histogramQuantile(h: LatencyHistogram, q: number): number {
  if (h.count === 0) return 0;
  const rank = Math.ceil(q * h.count);
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    seen += h.counts[i]!;
    if (seen >= rank) return i < h.bounds.length ? h.bounds[i]! : Infinity;
  }
  return Infinity;
}
