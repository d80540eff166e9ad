/**
 * Federated learning over the fleet: HTTP paths and schemas of FL jobs (operator API), of device
 * uploads, and the signed payload of an upload. The MQTT task message is `FlTaskMessage`
 * (messages.ts, verb `fl`); the update body is the VFLU binary format (fl-update.ts).
 *
 * Upload: `POST /v1/fl/jobs/<job>/rounds/<round>/update`, device Basic auth, body = VFLU bytes,
 * headers `x-verge-fl-token`, `x-verge-fl-examples`, `x-verge-fl-metrics` (JSON object of numbers)
 * and `x-verge-fl-signature`: base64 ed25519, by the key the device registered with
 * `PUT /v1/fl/device-key`, over `flUploadSignaturePayload(...)`. The payload names job, round,
 * device, the round's token and the body's sha256, so an update cannot be replayed into another
 * round or job, and a second upload for the same round is refused (409).
 */
import { z } from 'zod';
import { DeviceIdSchema, EpochMs, ModelName, SemverString, Sha256Hex, Tags } from './messages.ts';
import { fillRoute } from './http.ts';
import { HTTP_API_ROOT } from './version.ts';

export const FL_JOB_ID_PATTERN = /^fl-[a-z0-9]{6,32}$/;
export const FlJobId = z.string().regex(FL_JOB_ID_PATTERN, 'job id: fl-<letters and digits>');
/** Largest update body accepted (VFLU bytes): matches MAX_UPDATE_ELEMENTS as fp32 plus the header. */
export const MAX_FL_UPLOAD_BYTES = 256 * 1024 * 1024 + 64;
/** Largest metrics header (JSON). */
export const MAX_FL_METRICS_BYTES = 2048;

export const FL_HEADERS = Object.freeze({
  token: 'x-verge-fl-token',
  examples: 'x-verge-fl-examples',
  metrics: 'x-verge-fl-metrics',
  signature: 'x-verge-fl-signature',
} as const);

/** Route patterns (Fastify `:param` syntax) of the FL API. */
export const FL_ROUTES = Object.freeze({
  jobs: `${HTTP_API_ROOT}/fl/jobs`,
  job: `${HTTP_API_ROOT}/fl/jobs/:id`,
  stop: `${HTTP_API_ROOT}/fl/jobs/:id/stop`,
  update: `${HTTP_API_ROOT}/fl/jobs/:id/rounds/:round/update`,
  evaluation: `${HTTP_API_ROOT}/fl/jobs/:id/rounds/:round/evaluation`,
  deviceKey: `${HTTP_API_ROOT}/fl/device-key`,
  secagg: `${HTTP_API_ROOT}/fl/jobs/:id/rounds/:round/secagg/:phase`,
} as const);

/** The routes with their parameters filled, for clients. */
export const FL_PATHS = Object.freeze({
  jobs: FL_ROUTES.jobs,
  job: (id: string) => fillRoute(FL_ROUTES.job, { id }),
  stop: (id: string) => fillRoute(FL_ROUTES.stop, { id }),
  update: (id: string, round: number) => fillRoute(FL_ROUTES.update, { id, round: String(round) }),
  evaluation: (id: string, round: number) => fillRoute(FL_ROUTES.evaluation, { id, round: String(round) }),
  deviceKey: FL_ROUTES.deviceKey,
  secagg: (id: string, round: number, phase: SecAggUploadPhase) =>
    fillRoute(FL_ROUTES.secagg, { id, round: String(round), phase }),
} as const);

/**
 * Secure-aggregation uploads (`POST …/secagg/<phase>`, device auth, signed like an update over the
 * body's sha256): `advertise`, `share` and `unmask` bodies are JSON (schemas below), `mask` is the
 * masked input as raw little-endian uint32 values (length × 4 bytes).
 */
export const SECAGG_UPLOAD_PHASES = Object.freeze(['advertise', 'share', 'mask', 'unmask'] as const);
export type SecAggUploadPhase = (typeof SECAGG_UPLOAD_PHASES)[number];
const B64Key = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, '32-byte key, base64');
const Party = z.number().int().min(1).max(255);
/** A Shamir share: 32 secret bytes and the x coordinate, base64. */
const ShareB64 = z.string().regex(/^[A-Za-z0-9+/]{44}$/, '33-byte share, base64');
export const SecAggAdvertise = z.object({ encryption_key: B64Key, mask_key: B64Key });
export const SecAggShares = z.object({
  bundles: z.array(z.object({ to: Party, bundle: z.string().max(512) })).max(255),
});
export const SecAggUnmask = z.object({
  mask_key_shares: z.array(z.object({ of: Party, share: ShareB64 })).max(255),
  seed_shares: z.array(z.object({ of: Party, share: ShareB64 })).max(255),
});
export type SecAggAdvertise = z.infer<typeof SecAggAdvertise>;
export type SecAggShares = z.infer<typeof SecAggShares>;
export type SecAggUnmask = z.infer<typeof SecAggUnmask>;

/** The bytes a device signs for an upload (update or evaluation). */
export function flUploadSignaturePayload(u: {
  job: string;
  round: number;
  device: string;
  token: string;
  bodySha256: string;
  examples: number;
  metricsJson: string;
}): Uint8Array {
  return new TextEncoder().encode(
    ['verge-fl-upload/v1', u.job, u.round, u.device, u.token, u.bodySha256, u.examples, u.metricsJson].join('\n'),
  );
}

/** The canonical JSON an evaluation upload signs as its body (key order fixed). */
export function flEvaluationBody(e: { examples: number; loss: number; accuracy: number }): string {
  return JSON.stringify({ examples: e.examples, loss: e.loss, accuracy: e.accuracy });
}

export const FlMetrics = z
  .record(z.string().regex(/^[a-z0-9_]{1,64}$/), z.number())
  .refine((r) => Object.keys(r).length <= 32, 'at most 32 metrics');

export const RegisterFlKeyRequest = z.object({
  /** ed25519 public key, SPKI PEM. */
  public_key_pem: z.string().min(40).max(512),
});
export const RegisterFlKeyResponse = z.object({ device_id: DeviceIdSchema, key_id: z.string().max(64) });

/** A device's evaluation of the round's global model on its hold-out (task `evaluate`). */
export const FlEvaluationUpload = z.object({
  token: z.string().max(64),
  examples: z.number().int().nonnegative(),
  loss: z.number(),
  accuracy: z.number().min(0).max(1),
  signature: z.string().max(128),
});
export type FlEvaluationUpload = z.infer<typeof FlEvaluationUpload>;

export const CreateFlJobRequest = z
  .object({
    /** The starting model: a registry version (its fp32 variant) or an uploaded artifact. */
    model: z.union([z.object({ name: ModelName, version: SemverString }), z.object({ sha256: Sha256Hex })]),
    target: z.object({ devices: z.array(z.string().max(128)).max(10_000).optional(), tags: Tags.optional() }),
    rounds: z.number().int().min(1).max(10_000),
    strategy: z.string().max(64).default('fedavg'),
    fraction_fit: z.number().gt(0).max(1).default(1),
    min_fit_clients: z.number().int().min(1).max(10_000).default(2),
    /**
     * Flower's min_available_clients: a round opens only when this many target devices are online,
     * waiting for them at most round_timeout_s (counted from the previous round's close, the job's
     * creation or the control plane's start, whichever is latest); after that it opens with the
     * devices online if they are ≥ min_fit_clients. Applies to the final evaluation too. Optional
     * (added within protocol v1): absent = min_fit_clients for training and 1 for the evaluation,
     * i.e. no extra wait (the behaviour before the field existed).
     */
    min_available_clients: z.number().int().min(1).max(10_000).optional(),
    round_timeout_s: z.number().positive().max(86_400).default(300),
    local_epochs: z.number().int().min(1).max(1000).default(1),
    batch_size: z.number().int().min(1).max(65_536).default(32),
    lr: z.number().positive().max(10).optional(),
    /**
     * Local optimizer steps per round instead of local_epochs (the same work for every device,
     * whatever its data). Optional (added within protocol v1): absent = whole epochs.
     */
    local_steps: z.number().int().min(1).max(1_000_000).optional(),
    /**
     * Round-indexed client learning rate: round r's devices train at lr · lr_decay^(r − 1) (lr
     * absent: the devices' default 0.05). Optional (added within protocol v1): absent = constant.
     */
    lr_decay: z.number().gt(0).max(1).optional(),
    /**
     * Floor of the decaying rate: round r's devices train at max(lr_min, lr · lr_decay^(r − 1)); needs
     * lr_decay < 1 or the cosine schedule, and lr_min ≤ lr. Optional (added within protocol v1): absent = no floor.
     */
    lr_min: z.number().positive().max(10).optional(),
    /**
     * Shape of the client rate over the job's rounds R: 'exp' (the lr_decay above) or 'cosine': round r's
     * devices train at lr_min + (lr − lr_min) · (1 + cos(π (r − 1) / R)) / 2 (lr_min absent: 0; takes no
     * lr_decay). The server computes each round's rate. Optional (added within protocol v1): absent = 'exp'.
     */
    lr_schedule: z.enum(['exp', 'cosine']).optional(),
    /**
     * Client-side label-skew corrections, sent in the fit config (src/fl/label-skew.ts): FedRS's
     * restricted softmax α (a device scales the logits of classes it has no sample of by α in its
     * loss) and a FedLC-style logit calibration τ (class c's logit lowered by τ·n_c^(−1/4)).
     * Optional (added within protocol v1): absent = off; a device on an older verge ignores them.
     */
    restricted_softmax: z.number().min(0).max(1).optional(),
    logit_calibration: z.number().min(0).max(100).optional(),
    compress: z.string().max(32).default('none'),
    /**
     * Client-level differential privacy (DP-FedAvg): devices clip their update to L2 norm `clip`,
     * the server adds N(0, (noise_multiplier·clip/m)²) to the mean of m updates; the job reports (ε, δ).
     */
    dp: z
      .object({
        clip: z.number().positive().max(1e6),
        noise_multiplier: z.number().positive().max(1000),
        delta: z.number().gt(0).lt(1).optional(),
      })
      .optional(),
    /**
     * Secure aggregation (Bonawitz et al. 2017): the server receives masked updates only and learns
     * their weighted sum, recovered even if some devices drop after sharing keys. Mean-based
     * strategies only; updates travel dense (no --compress).
     */
    secure_agg: z.boolean().default(false),
    /** Publish the final model as this registry version (default: `<name>@<next minor>`, or fl-<job>@1.0.0). */
    publish: z.object({ name: ModelName, version: SemverString }).optional(),
  })
  .refine((r) => !!r.target.devices?.length || !!r.target.tags, 'target needs devices or tags');
export type CreateFlJobRequest = z.infer<typeof CreateFlJobRequest>;

export const FL_JOB_STATES = Object.freeze(['running', 'completed', 'failed', 'stopped'] as const);
export const FlJobState = z.enum(FL_JOB_STATES);
export type FlJobState = z.infer<typeof FlJobState>;

export const FlRound = z.object({
  round: z.number().int(),
  task: z.enum(['fit', 'evaluate']),
  state: z.enum(['open', 'closed', 'failed']),
  selected: z.number().int(),
  accepted: z.number().int(),
  rejected: z.number().int(),
  late: z.number().int(),
  /** Selected clients that sent nothing before the deadline. */
  missing: z.number().int(),
  /** Federated evaluation of the round's starting model on the clients' hold-outs. */
  accuracy: z.number().nullable(),
  loss: z.number().nullable(),
  uplink_bytes: z.number().int(),
  deadline: EpochMs,
  closed_at: EpochMs.nullable(),
});
export type FlRound = z.infer<typeof FlRound>;

export const FlJob = z.object({
  id: FlJobId,
  state: FlJobState,
  model: z.object({ name: z.string().nullable(), version: z.string().nullable(), sha256: Sha256Hex }),
  strategy: z.string(),
  rounds: z.number().int(),
  rounds_completed: z.number().int(),
  min_fit_clients: z.number().int(),
  /** What training rounds wait for (min_fit_clients when the request had none); absent from older control planes. */
  min_available_clients: z.number().int().optional(),
  fraction_fit: z.number(),
  round_timeout_s: z.number(),
  compress: z.string(),
  secure_agg: z.boolean().optional(),
  target: z.object({ devices: z.array(z.string()).optional(), tags: Tags.optional() }),
  final: z.object({ accuracy: z.number().nullable(), loss: z.number().nullable() }).nullable(),
  published: z.object({ name: ModelName, version: SemverString }).nullable(),
  error: z.string().nullable(),
  /** DP jobs: the privacy spent so far (RDP accountant over the closed training rounds). */
  privacy: z
    .object({ epsilon: z.number(), delta: z.number(), clip: z.number(), noise_multiplier: z.number() })
    .nullable()
    .optional(),
  history: z.array(FlRound),
  created_at: EpochMs,
  updated_at: EpochMs,
});
export type FlJob = z.infer<typeof FlJob>;

export const FlJobsResponse = z.object({ jobs: z.array(FlJob) });
export const FlUploadResponse = z.object({ accepted: z.boolean(), round: z.number().int() });
