/**
 * HTTP request/response schemas: agent ↔ cloud (enrollment, signing key, artifact download) and
 * the operator API. The cloud turns them into Fastify JSON schemas with `z.toJSONSchema`, so these
 * zod definitions are the one source of truth for both sides and for the OpenAPI document.
 *
 * Auth: operators send `Authorization: Bearer <api key>`; devices send
 * `Authorization: Basic base64(<device_id>:<password>)` with the credentials from enrollment.
 * Errors are `{error: {code, message}}` with an HTTP status (400 bad input, 401/403 auth,
 * 404 unknown, 409 conflict, 416 bad range).
 */
import { z } from 'zod';
import {
  ArtifactRef,
  ASSIGNED_DEVICE_ID,
  DeviceIdSchema,
  DeviceProfile,
  EpochMs,
  ErrorInfo,
  LoadedMemory,
  ModelName,
  Precision,
  SemverString,
  Sha256Hex,
  Tags,
  AckState,
  X25519Key,
} from './messages.ts';
import {
  MAX_CERTIFICATE_PEM,
  MAX_CLIENT_PUBLIC_KEY_PEM,
  MAX_MODEL_METRICS,
  MAX_TARGET_DEVICES,
  MAX_TELEMETRY_BATCH,
  maxEntries,
} from './limits.ts';
import { HTTP_API_ROOT } from './version.ts';

/**
 * Route patterns, relative to the cloud's base URL, in the router's syntax (`:param` is one path
 * segment). The cloud registers its routes with these; clients build URLs with HTTP_PATHS.
 */
export const HTTP_ROUTES = Object.freeze({
  enroll: `${HTTP_API_ROOT}/enroll`,
  /** GET, device auth: the device's current connection settings (broker URL may change across cloud restarts). */
  deviceConfig: `${HTTP_API_ROOT}/device`,
  signingKey: `${HTTP_API_ROOT}/signing-key`,
  /** GET, device or operator auth: the signing key set (rotations and revocations, each signed). */
  signingKeys: `${HTTP_API_ROOT}/signing-keys`,
  /** POST, admin: make a new signing key active, vouched for by the current one. */
  rotateSigningKey: `${HTTP_API_ROOT}/signing-keys/rotate`,
  /** DELETE, admin: revoke a retired signing key by its id. */
  signingKeyById: `${HTTP_API_ROOT}/signing-keys/:id`,
  /**
   * PUT, device auth: register the device's X25519 public key for confidential artifacts (agents
   * enrolled before they had one); the first registration wins (enrollment may carry it instead).
   */
  deviceEncryptionKey: `${HTTP_API_ROOT}/device/encryption-key`,
  /** GET with Range support; device or operator auth. */
  artifact: `${HTTP_API_ROOT}/artifacts/:sha256`,
  /** GET, device auth: a confidential artifact's content key wrapped to this device (WrappedArtifactKey). */
  artifactKey: `${HTTP_API_ROOT}/artifacts/:sha256/key`,
  artifacts: `${HTTP_API_ROOT}/artifacts`,
  enrollTokens: `${HTTP_API_ROOT}/enroll-tokens`,
  apiKeys: `${HTTP_API_ROOT}/api-keys`,
  /** DELETE, admin: revoke an API key by its id (GET /v1/api-keys lists ids, never keys). */
  apiKey: `${HTTP_API_ROOT}/api-keys/:id`,
  devices: `${HTTP_API_ROOT}/devices`,
  device: `${HTTP_API_ROOT}/devices/:id`,
  revokeDevice: `${HTTP_API_ROOT}/devices/:id/revoke`,
  models: `${HTTP_API_ROOT}/models`,
  model: `${HTTP_API_ROOT}/models/:name`,
  deployments: `${HTTP_API_ROOT}/deployments`,
  deployment: `${HTTP_API_ROOT}/deployments/:id`,
  promote: `${HTTP_API_ROOT}/deployments/:id/promote`,
  rollback: `${HTTP_API_ROOT}/deployments/:id/rollback`,
  status: `${HTTP_API_ROOT}/status`,
  /** GET, any operator key: the key's role (the dashboard hides write actions from read-only keys). */
  session: `${HTTP_API_ROOT}/session`,
  /** GET ?model=&since= : inference totals and latency quantiles per model, version and variant. */
  telemetry: `${HTTP_API_ROOT}/telemetry`,
  /** GET ?since=&bucket_s= : one device's telemetry as a time series (DeviceTelemetryResponse). */
  deviceTelemetry: `${HTTP_API_ROOT}/devices/:id/telemetry`,
  /** GET, any operator key: server-sent events (`text/event-stream`) saying what changed (FleetEvent). */
  events: `${HTTP_API_ROOT}/events`,
  /**
   * GET with `Upgrade: websocket` (subprotocol `mqtt`): MQTT over WebSocket, bridged to the control
   * plane's broker, for devices that cannot open a TCP socket (a browser tab). The broker
   * authenticates the MQTT CONNECT with the device's credentials, as on its TCP port.
   */
  mqtt: `${HTTP_API_ROOT}/mqtt`,
  openapi: '/openapi.json',
  /** Swagger UI over /openapi.json (files served from the npm package). */
  docs: '/docs',
  metrics: '/metrics',
  health: '/healthz',
} as const);

/** A route pattern with its `:params` filled in (URI-encoded). */
export function fillRoute(route: string, params: Record<string, string>): string {
  return route.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_, k: string) => {
    const v = params[k];
    if (v === undefined) throw new Error(`route ${route} needs '${k}'`);
    return encodeURIComponent(v);
  });
}

/** Paths, relative to the cloud's base URL (HTTP_ROUTES with their parameters filled). */
export const HTTP_PATHS = Object.freeze({
  enroll: HTTP_ROUTES.enroll,
  deviceConfig: HTTP_ROUTES.deviceConfig,
  signingKey: HTTP_ROUTES.signingKey,
  signingKeys: HTTP_ROUTES.signingKeys,
  rotateSigningKey: HTTP_ROUTES.rotateSigningKey,
  signingKeyById: (id: string) => fillRoute(HTTP_ROUTES.signingKeyById, { id }),
  deviceEncryptionKey: HTTP_ROUTES.deviceEncryptionKey,
  artifact: (sha256: string) => fillRoute(HTTP_ROUTES.artifact, { sha256 }),
  artifactKey: (sha256: string) => fillRoute(HTTP_ROUTES.artifactKey, { sha256 }),
  artifacts: HTTP_ROUTES.artifacts,
  enrollTokens: HTTP_ROUTES.enrollTokens,
  apiKeys: HTTP_ROUTES.apiKeys,
  apiKey: (id: string) => fillRoute(HTTP_ROUTES.apiKey, { id }),
  devices: HTTP_ROUTES.devices,
  device: (id: string) => fillRoute(HTTP_ROUTES.device, { id }),
  revokeDevice: (id: string) => fillRoute(HTTP_ROUTES.revokeDevice, { id }),
  models: HTTP_ROUTES.models,
  model: (name: string) => fillRoute(HTTP_ROUTES.model, { name }),
  deployments: HTTP_ROUTES.deployments,
  deployment: (id: string) => fillRoute(HTTP_ROUTES.deployment, { id }),
  promote: (id: string) => fillRoute(HTTP_ROUTES.promote, { id }),
  rollback: (id: string) => fillRoute(HTTP_ROUTES.rollback, { id }),
  status: HTTP_ROUTES.status,
  session: HTTP_ROUTES.session,
  telemetry: HTTP_ROUTES.telemetry,
  deviceTelemetry: (id: string) => fillRoute(HTTP_ROUTES.deviceTelemetry, { id }),
  events: HTTP_ROUTES.events,
  mqtt: HTTP_ROUTES.mqtt,
  openapi: HTTP_ROUTES.openapi,
  docs: HTTP_ROUTES.docs,
  metrics: HTTP_ROUTES.metrics,
  health: HTTP_ROUTES.health,
} as const);

export const ErrorResponse = z.object({ error: ErrorInfo });
export type ErrorResponse = z.infer<typeof ErrorResponse>;

// ---- agent ↔ cloud -------------------------------------------------------------------------

export const SigningKeyResponse = z.object({
  algorithm: z.literal('ed25519'),
  key_id: z.string(),
  /** SPKI PEM */
  public_key_pem: z.string(),
});
export type SigningKeyResponse = z.infer<typeof SigningKeyResponse>;

/** A signing key's id: the first 16 hex digits of the sha256 of its SPKI DER (publicKeyId). */
export const SigningKeyId = z.string().regex(/^[0-9a-f]{16}$/, 'signing key id: 16 hex digits');
/** A base64 ed25519 signature. */
const Ed25519Signature = z.string().max(128);
/** The most keys a set lists (one rotation a day for most of a year; revoked keys stay listed). */
export const MAX_SIGNING_KEYS = 256;

/**
 * One key of the signing key set. `endorsed_by`: the key that was active when this one was made
 * active signed `keyEndorsementPayload` (absent on a fleet's first key, which devices get at
 * enrollment). `revoked`: a key of the set signed `keyRevocationPayload` — devices refuse this key
 * from then on (key-trust.ts applyKeySet says what a device trusts).
 */
export const SigningKeyEntry = z.object({
  key_id: SigningKeyId,
  public_key_pem: z.string().max(512),
  created_at: EpochMs,
  endorsed_by: z.object({ key_id: SigningKeyId, signature: Ed25519Signature }).optional(),
  revoked: z.object({ at: EpochMs, by: SigningKeyId, signature: Ed25519Signature }).optional(),
});
export type SigningKeyEntry = z.infer<typeof SigningKeyEntry>;

/** GET /v1/signing-keys: every key the cloud has signed with; `seq` grows with each rotation and revocation. */
export const SigningKeySet = z.object({
  seq: z.number().int().nonnegative(),
  active: SigningKeyId,
  keys: z.array(SigningKeyEntry).min(1).max(MAX_SIGNING_KEYS),
});
export type SigningKeySet = z.infer<typeof SigningKeySet>;

export const EnrollRequest = z.object({
  token: z.string().min(16).max(256),
  /** Human name shown by `verge devices`; unique per fleet. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'name: letters, digits, _ . - (max 64)')
    .refine((n) => !ASSIGNED_DEVICE_ID.test(n), 'name: dev-<12 hex digits> is the form of device ids, not names'),
  profile: DeviceProfile,
  /**
   * The device's own RSA public key (SPKI PEM): a control plane serving TLS answers with a client
   * certificate for it (mTLS); the private key never leaves the device.
   */
  client_public_key: z.string().max(MAX_CLIENT_PUBLIC_KEY_PEM).optional(),
  /**
   * The device's X25519 public key (raw, base64): confidential artifacts' content keys are wrapped
   * to it (artifact-crypto.ts). Optional: agents enrolled without it register it later
   * (PUT /v1/device/encryption-key).
   */
  encryption_public_key: X25519Key.optional(),
});
export type EnrollRequest = z.infer<typeof EnrollRequest>;

export const EnrollResponse = z.object({
  device_id: DeviceIdSchema,
  name: z.string(),
  tags: Tags,
  /** MQTT credentials: client id and username are the device id. */
  credentials: z.object({ username: z.string(), password: z.string() }),
  /** Broker URL the device should connect to (mqtt://host:port). */
  mqtt_url: z.string(),
  signing_key: SigningKeyResponse,
  protocol_version: z.number().int(),
  /** PEM client certificate `CN=<device_id>` for `client_public_key` (a control plane serving TLS). */
  client_certificate: z.string().max(MAX_CERTIFICATE_PEM).optional(),
  /**
   * The cloud answers telemetry that asks for it with a `receipt` command once stored: the device
   * keeps a record until then and sends it again when none comes (absent: an older cloud).
   */
  telemetry_receipts: z.boolean().optional(),
  /**
   * The cloud accepts batched telemetry (TelemetryBatchMessage) of up to this many records; absent:
   * one record per message (an older cloud). Receipts repeat it (CommandMessage.telemetry_batch).
   */
  telemetry_batch: z.number().int().min(1).max(MAX_TELEMETRY_BATCH).optional(),
});
export type EnrollResponse = z.infer<typeof EnrollResponse>;

/** PUT /v1/device/encryption-key: the device's X25519 public key (raw, base64). */
export const DeviceEncryptionKey = z.object({ public_key: X25519Key });
export type DeviceEncryptionKey = z.infer<typeof DeviceEncryptionKey>;

/**
 * GET /v1/artifacts/<sha256>/key: a confidential artifact's 32-byte content key wrapped to the
 * asking device (artifact-crypto.ts wrapArtifactKey): an ephemeral X25519 key agreed with the
 * device's, HKDF-SHA256 bound to the artifact and the device id, AES-256-GCM over the key.
 */
export const WrappedArtifactKey = z.object({
  algorithm: z.literal('x25519-hkdf-sha256-aes-256-gcm'),
  sha256: Sha256Hex,
  device_id: DeviceIdSchema,
  ephemeral_public_key: X25519Key,
  /** base64 of the 12-byte GCM nonce */
  nonce: z.string().regex(/^[A-Za-z0-9+/]{16}$/, '12-byte nonce, base64'),
  /** base64 of the 32-byte wrapped key followed by its 16-byte GCM tag */
  wrapped_key: z.string().regex(/^[A-Za-z0-9+/]{64}$/, '48 bytes, base64'),
});
export type WrappedArtifactKey = z.infer<typeof WrappedArtifactKey>;

/** GET /v1/device (device auth): what enrollment returned, minus the password. */
export const DeviceConfigResponse = EnrollResponse.omit({ credentials: true, client_certificate: true });
export type DeviceConfigResponse = z.infer<typeof DeviceConfigResponse>;

// ---- operator API ---------------------------------------------------------------------------

export const ROLES = Object.freeze(['admin', 'read-only'] as const);
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

export const CreateApiKeyRequest = z.object({ role: Role, name: z.string().max(64).optional() });
/** An API key's public id: the first 12 hex digits of its sha256 (the key itself is never stored). */
export const ApiKeyId = z.string().regex(/^[0-9a-f]{12}$/, 'api key id: 12 hex digits');
export const ApiKeyResponse = z.object({ id: ApiKeyId, key: z.string(), role: Role, name: z.string().nullable() });
export type ApiKeyResponse = z.infer<typeof ApiKeyResponse>;
export const ApiKeyInfo = z.object({ id: ApiKeyId, role: Role, name: z.string().nullable(), created_at: EpochMs });
export type ApiKeyInfo = z.infer<typeof ApiKeyInfo>;
export const ApiKeysResponse = z.object({ keys: z.array(ApiKeyInfo) });
export type ApiKeysResponse = z.infer<typeof ApiKeysResponse>;

export const CreateEnrollTokenRequest = z.object({
  tags: Tags.default({}),
  /** Lifetime; default ENROLL_TOKEN_TTL_S in the cloud. */
  ttl_s: z
    .number()
    .int()
    .positive()
    .max(30 * 24 * 3600)
    .optional(),
});
export type CreateEnrollTokenRequest = z.input<typeof CreateEnrollTokenRequest>;
export const EnrollTokenResponse = z.object({ token: z.string(), expires_at: EpochMs, tags: Tags });
export type EnrollTokenResponse = z.infer<typeof EnrollTokenResponse>;

export const DEVICE_STATUSES = Object.freeze(['online', 'offline', 'revoked'] as const);
export const Device = z.object({
  id: DeviceIdSchema,
  name: z.string(),
  status: z.enum(DEVICE_STATUSES),
  tags: Tags,
  profile: DeviceProfile.nullable(),
  /** What the device reports serving (first model when several). */
  model: z.string().nullable(),
  version: z.string().nullable(),
  variant: z.string().nullable(),
  models: z.array(z.object({ name: z.string(), version: z.string(), variant: z.string() })),
  last_seen: EpochMs.nullable(),
  enrolled_at: EpochMs,
});
export type Device = z.infer<typeof Device>;
export const DevicesResponse = z.object({ devices: z.array(Device) });
export type DevicesResponse = z.infer<typeof DevicesResponse>;

export const ArtifactUploadResponse = z.object({ sha256: Sha256Hex, size: z.number().int() });
export type ArtifactUploadResponse = z.infer<typeof ArtifactUploadResponse>;

/** Register a variant of a model version whose artifact was uploaded (POST /v1/artifacts) before. */
export const PublishModelRequest = z.object({
  name: ModelName,
  version: SemverString,
  variant: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .default('fp32'),
  precision: Precision.default('fp32'),
  profile: z.string().max(64).nullable().default(null),
  sha256: Sha256Hex,
  /** Lineage: the model this one was derived from, `name@version`. */
  parent: z.string().max(200).nullable().default(null),
  /** Lineage: what was applied to the parent (e.g. `quantize:static-int8`, `prune:0.8`). */
  optimization: z.string().max(200).nullable().default(null),
  metrics: z
    .record(z.string().max(64), z.number())
    .refine(...maxEntries(MAX_MODEL_METRICS, 'metrics'))
    .default({}),
  /**
   * The `verge optimize` report of this version (its report.svg), an uploaded artifact of at most
   * MAX_REPORT_BYTES: the dashboard shows it with the version. Given once; the same again is a no-op.
   */
  report_sha256: Sha256Hex.nullable().default(null),
  /**
   * A confidential variant: the uploaded artifact is the ciphertext `encryptArtifact` made
   * (artifact-crypto.ts) and this is its 32-byte content key (base64). The cloud checks that the key
   * opens the artifact, keeps it, and gives it only to devices the variant is deployed to, wrapped
   * to each device's key (GET /v1/artifacts/<sha256>/key).
   */
  encryption_key: X25519Key.optional(),
  /**
   * The variant's loaded memory as the publisher measured it (`verge model publish` does, on the
   * plain model, unless told not to). Kept with the artifact and sent to devices with the variant;
   * absent, agents estimate it from the file size.
   */
  loaded_memory: LoadedMemory.optional(),
});
export type PublishModelRequest = z.input<typeof PublishModelRequest>;

export const ModelVariant = ArtifactRef.extend({ created_at: EpochMs });
export type ModelVariant = z.infer<typeof ModelVariant>;

export const ModelVersion = z.object({
  name: ModelName,
  version: SemverString,
  parent: z.string().nullable(),
  optimization: z.string().nullable(),
  metrics: z.record(z.string(), z.number()),
  variants: z.array(ModelVariant),
  created_at: EpochMs,
  /** sha256 of the version's optimize report (SVG; GET /v1/artifacts/<sha256>), when one was published. */
  report_sha256: Sha256Hex.nullable().optional(),
});
export type ModelVersion = z.infer<typeof ModelVersion>;
/** Largest optimize report (SVG) a version may carry. */
export const MAX_REPORT_BYTES = 1024 * 1024;
export const ModelsResponse = z.object({
  models: z.array(z.object({ name: ModelName, versions: z.array(ModelVersion) })),
});
export type ModelsResponse = z.infer<typeof ModelsResponse>;

export const DeploymentTarget = z
  .object({
    devices: z.array(z.string().max(64)).max(MAX_TARGET_DEVICES).optional(),
    tags: Tags.optional(),
    profile: z
      .object({
        class: z.string().max(64).optional(),
        arch: z.string().max(32).optional(),
        precision: Precision.optional(),
        min_memory_mb: z.number().int().optional(),
      })
      .optional(),
  })
  .refine(
    (t) => t.devices !== undefined || t.tags !== undefined || t.profile !== undefined,
    'target needs devices, tags or profile',
  );
export type DeploymentTarget = z.infer<typeof DeploymentTarget>;

/**
 * Health gate of a canary: every canary device must ack `loaded`, then, within `timeout_s`, report
 * at least `min_inferences` inferences in total with error rate ≤ max_error_rate and
 * p95 latency ≤ max_p95_ms. Otherwise the deployment rolls back automatically.
 */
export const HealthGate = z.object({
  max_error_rate: z.number().min(0).max(1).default(0.05),
  max_p95_ms: z.number().positive().nullable().default(null),
  min_inferences: z.number().int().nonnegative().default(0),
  timeout_s: z.number().positive().default(300),
});
export type HealthGate = z.infer<typeof HealthGate>;

export const STRATEGIES = Object.freeze(['all', 'canary'] as const);
export const CreateDeploymentRequest = z.object({
  model: ModelName,
  version: SemverString,
  target: DeploymentTarget,
  strategy: z.enum(STRATEGIES).default('all'),
  canary_percent: z.number().int().min(1).max(99).nullable().default(null),
  health: HealthGate.default({ max_error_rate: 0.05, max_p95_ms: null, min_inferences: 0, timeout_s: 300 }),
  /** Promote automatically when the canary passes; false = wait for `promote`. */
  auto_promote: z.boolean().default(true),
});
export type CreateDeploymentRequest = z.input<typeof CreateDeploymentRequest>;

export const DEPLOYMENT_STATES = Object.freeze([
  'canary',
  'rolling',
  'succeeded',
  'failed',
  'rolled_back',
  'superseded',
] as const);
export type DeploymentState = (typeof DEPLOYMENT_STATES)[number];
/** States a deployment never leaves. */
export const TERMINAL_DEPLOYMENT_STATES = Object.freeze(['succeeded', 'failed', 'rolled_back', 'superseded'] as const);
/** Terminal states in which the rollout did not reach its devices. */
export const FAILED_DEPLOYMENT_STATES = Object.freeze(['failed', 'rolled_back'] as const);
export function isTerminalDeploymentState(s: DeploymentState): boolean {
  return (TERMINAL_DEPLOYMENT_STATES as readonly string[]).includes(s);
}
/** Per device: ack states plus pending (nothing heard yet) and rolled_back. */
export const DEVICE_DEPLOYMENT_STATES = Object.freeze([
  'pending',
  ...(['received', 'downloading', 'verified', 'loaded', 'failed', 'rejected'] as const),
  'rolled_back',
] as const);
export type DeviceDeploymentState = (typeof DEVICE_DEPLOYMENT_STATES)[number];

export const DeploymentDevice = z.object({
  device_id: z.string(),
  name: z.string(),
  canary: z.boolean(),
  /** false while a canary waits for promotion. */
  released: z.boolean(),
  state: z.enum(DEVICE_DEPLOYMENT_STATES),
  variant: z.string().nullable(),
  error: ErrorInfo.nullable(),
  updated_at: EpochMs,
});
export type DeploymentDevice = z.infer<typeof DeploymentDevice>;

export const Deployment = z.object({
  id: z.string(),
  model: ModelName,
  version: SemverString,
  /** Version the targeted devices ran before (rollback goes there); null = none. */
  previous_version: z.string().nullable(),
  target: z.record(z.string(), z.unknown()),
  strategy: z.enum(STRATEGIES),
  canary_percent: z.number().nullable(),
  health: HealthGate,
  auto_promote: z.boolean(),
  state: z.enum(DEPLOYMENT_STATES),
  reason: z.string().nullable(),
  /** When the canary's health gate passed (null = not yet); with auto_promote false it then waits for promote. */
  gate_passed_at: EpochMs.nullable(),
  created_at: EpochMs,
  updated_at: EpochMs,
  devices: z.array(DeploymentDevice),
});
export type Deployment = z.infer<typeof Deployment>;
export const DeploymentsResponse = z.object({ deployments: z.array(Deployment) });
export type DeploymentsResponse = z.infer<typeof DeploymentsResponse>;

export const RollbackRequest = z.object({ reason: z.string().max(512).optional() });

/** Who the presented API key is: the dashboard's sign-in check. */
export const SessionResponse = z.object({ role: Role, protocol_version: z.number().int() });
export type SessionResponse = z.infer<typeof SessionResponse>;

export const StatusResponse = z.object({
  protocol_version: z.number().int(),
  broker: z.object({ kind: z.enum(['embedded', 'external']), url: z.string() }),
  db: z.object({ kind: z.enum(['sqlite', 'postgres']) }),
  devices: z.object({
    total: z.number().int(),
    online: z.number().int(),
    offline: z.number().int(),
    revoked: z.number().int(),
  }),
  models: z.number().int(),
  deployments: z.object({ total: z.number().int(), active: z.number().int() }),
  telemetry: z.object({ messages: z.number().int(), inferences: z.number().int(), errors: z.number().int() }),
});
export type StatusResponse = z.infer<typeof StatusResponse>;

export const TelemetrySummaryResponse = z.object({
  since: EpochMs,
  /** Groups (model, version, variant) in the window; `models` is one page of them (?limit=&offset=), most inferences first. */
  total: z.number().int(),
  models: z.array(
    z.object({
      name: z.string(),
      version: z.string(),
      variant: z.string(),
      devices: z.number().int(),
      inferences: z.number().int(),
      errors: z.number().int(),
      error_rate: z.number(),
      /** Upper bound of the histogram bucket holding the quantile (null when no latency was reported). */
      p50_ms: z.number().nullable(),
      p95_ms: z.number().nullable(),
      results: z.record(z.string(), z.number().int()),
    }),
  ),
});
export type TelemetrySummaryResponse = z.infer<typeof TelemetrySummaryResponse>;

/** Bounds of GET /v1/devices/:id/telemetry: a window of at most a day, in at most this many buckets. */
export const DEVICE_TELEMETRY_MAX_WINDOW_MS = 24 * 3600_000;
export const DEVICE_TELEMETRY_MAX_BUCKETS = 360;

/** One time bucket of one device's telemetry (all its models). */
export const DeviceTelemetryPoint = z.object({
  /** Bucket start (epoch ms); a record counts in the bucket its window ends in. */
  t: EpochMs,
  inferences: z.number().int(),
  errors: z.number().int(),
  /** Inferences per second over the bucket. */
  throughput: z.number(),
  /** Upper bounds of the histogram buckets holding the quantiles; null without latency reports. */
  p50_ms: z.number().nullable(),
  p99_ms: z.number().nullable(),
  /** Class mix: result label → count. */
  results: z.record(z.string(), z.number().int()),
});
export type DeviceTelemetryPoint = z.infer<typeof DeviceTelemetryPoint>;

export const DeviceTelemetryResponse = z.object({
  device_id: z.string(),
  since: EpochMs,
  until: EpochMs,
  bucket_ms: z.number().int().positive(),
  /** The model versions the records came from. */
  models: z.array(z.object({ name: z.string(), version: z.string(), variant: z.string() })),
  /** Buckets with at least one record, oldest first. */
  points: z.array(DeviceTelemetryPoint),
});
export type DeviceTelemetryResponse = z.infer<typeof DeviceTelemetryResponse>;

/**
 * Live updates (GET /v1/events, `text/event-stream`): each event is `event: fleet` with one
 * FleetEvent as `data`, sent after the change is stored, so a client re-reading the resource sees
 * it. Comment lines (`: ping`) keep idle streams open through proxies.
 */
export const FLEET_EVENT_NAME = 'fleet';
export const FLEET_TOPICS = Object.freeze(['devices', 'deployments', 'models', 'telemetry', 'fl'] as const);
export type FleetTopic = (typeof FLEET_TOPICS)[number];
export const FleetEvent = z.object({ topic: z.enum(FLEET_TOPICS), at: EpochMs });
export type FleetEvent = z.infer<typeof FleetEvent>;

export { AckState };
