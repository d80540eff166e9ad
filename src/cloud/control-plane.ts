/**
 * `buildControlPlane(opts)`: the verge control plane as one object — a Fastify app (injectable in
 * tests without a socket), an MQTT side (embedded aedes broker or an external broker), state in
 * SQLite or PostgreSQL, artifacts on disk. `start({port: 0})` listens for real.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import semver from 'semver';
import { VergeError, isVergeError } from '../errors.ts';
import {
  HEARTBEAT_TIMEOUT_MS,
  PROTOCOL_VERSION,
  decodeMessage,
  type AckMessage,
  type ApiKeyResponse,
  type Device,
  type DeviceConfigResponse,
  type DeviceVerb,
  type EnrollRequest,
  type EnrollResponse,
  type EnrollTokenResponse,
  type HeartbeatMessage,
  type ModelVersion,
  type ModelsResponse,
  type Role,
  type SigningKeyResponse,
  type StatusResponse,
  type TelemetryMessage,
  type CreateEnrollTokenRequest,
  type PublishModelRequest,
} from '../protocol/index.ts';
import { signArtifact } from '../protocol/signature.ts';
import { ArtifactStore } from './artifacts.ts';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker.ts';
import { PostgresDatabase } from './db/postgres.ts';
import type { SqlDatabase } from './db/sql.ts';
import { SqliteDatabase } from './db/sqlite.ts';
import { MIGRATIONS } from './db/migrations.ts';
import { DeploymentController } from './deployments.ts';
import { HttpError, installAuth } from './http-auth.ts';
import { registerRoutes } from './http-api.ts';
import { CloudMessaging } from './messaging.ts';
import { mosquittoPasswordHash, writeMosquittoAuthFiles } from './mosquitto-auth.ts';
import { ControlPlaneMetrics } from './metrics.ts';
import { Repository, type DeviceRecord } from './repository.ts';
import {
  ADMIN_KEY_FILE,
  hashSecret,
  loadOrCreateSigningKey,
  newSecret,
  secretMatches,
  type SigningKey,
} from './secrets.ts';
import { TelemetryIngest } from './telemetry.ts';

export interface ControlPlaneOptions {
  /** Holds the SQLite file, artifacts, the signing key and admin.key. */
  dataDir: string;
  /** `postgres://…` for PostgreSQL; default SQLite at `<dataDir>/verge.db`. */
  db?: string;
  /** PostgreSQL schema for all tables (tests use a unique one per run). Default `public`. */
  pgSchema?: string;
  /** External broker URL (`mqtt://host:port`); default: embedded aedes broker. */
  broker?: string;
  /** Credentials of the control plane on an external broker. */
  brokerUsername?: string;
  brokerPassword?: string;
  /** Embedded broker bind address and port (default 127.0.0.1, ephemeral). */
  mqttHost?: string;
  mqttPort?: number;
  /** Broker URL handed to devices at enrollment (default: the broker's own URL). */
  publicMqttUrl?: string;
  /** HTTP bind address (default 127.0.0.1). */
  host?: string;
  /**
   * With an external Mosquitto: write its password and ACL files here (on start, enrollment,
   * revocation, and every AUTH_SYNC_MS); Mosquitto re-reads them on SIGHUP (docs/cloud.md).
   */
  mosquittoAuthDir?: string;
  /**
   * Stable MQTT client id of this replica on an external broker (e.g. the host or pod name). When
   * set, the replica keeps a persistent broker session, so device messages sent while it is
   * disconnected wait for it. Default: a random id with a clean session.
   */
  instanceId?: string;
  /**
   * External broker with several replicas: split device messages across replicas with an MQTT 5
   * shared subscription instead of every replica handling every message (deduplicated in the
   * database). Less work per replica, but Mosquitto 2 does not restore shared subscriptions of a
   * persistent session after its own restart, so messages in that gap are lost. Default false.
   */
  sharedSubscriptions?: boolean;
  /** Deployment re-evaluation period (timeouts, telemetry gates). */
  tickMs?: number;
  /** Fastify request logging. */
  logger?: boolean;
}

/** Enrollment tokens live one day by default: long enough to provision, short enough to leak little. */
export const ENROLL_TOKEN_TTL_S = 24 * 3600;
/** Deployment re-evaluation period; health-gate timeouts are seconds to minutes. */
const DEFAULT_TICK_MS = 1000;
const SERVICE_USERNAME = 'verge-cloud';
/** Replicas rewrite the broker auth files this often, so one replica's enrollment reaches every file writer. */
const AUTH_SYNC_MS = 5000;
/** After disconnecting devices on shutdown, time for messages already routed to reach our client. */
const SHUTDOWN_DRAIN_MS = 100;

export interface ControlPlaneCore {
  repo: Repository;
  artifacts: ArtifactStore;
  metrics: ControlPlaneMetrics;
  deployments: DeploymentController;
  signingKeyResponse(): SigningKeyResponse;
  enroll(req: EnrollRequest): Promise<EnrollResponse>;
  deviceConfig(deviceId: string): Promise<DeviceConfigResponse>;
  createEnrollToken(req: CreateEnrollTokenRequest): Promise<EnrollTokenResponse>;
  createApiKey(role: Role, name: string | null): Promise<ApiKeyResponse>;
  listDevices(): Promise<Device[]>;
  getDevice(idOrName: string): Promise<Device>;
  revokeDevice(idOrName: string): Promise<Device>;
  uploadArtifact(body: Readable): Promise<{ sha256: string; size: number }>;
  publishModel(req: PublishModelRequest): Promise<ModelVersion>;
  listModels(name?: string): Promise<ModelsResponse>;
  status(): Promise<StatusResponse>;
}

export interface ControlPlane {
  app: FastifyInstance;
  repo: Repository;
  metrics: ControlPlaneMetrics;
  deployments: DeploymentController;
  signingKey: SigningKey;
  /** The admin API key in `<dataDir>/admin.key`. */
  adminKey: string;
  adminKeyPath: string;
  /** Set after start(). */
  url: string | null;
  mqttUrl: string | null;
  /** Listen on HTTP, start/connect MQTT. */
  start(opts?: { port?: number }): Promise<{ url: string; mqttUrl: string }>;
  /** Write buffered telemetry now (tests, shutdown). */
  flush(): Promise<void>;
  /** Rewrite the external broker's auth files now; true when they changed (the broker needs a SIGHUP). */
  syncBrokerAuth(): Promise<boolean>;
  close(): Promise<void>;
}

function openDatabase(opts: ControlPlaneOptions): SqlDatabase {
  if (opts.db && /^postgres(ql)?:\/\//.test(opts.db)) return new PostgresDatabase(opts.db, opts.pgSchema ?? 'public');
  if (opts.db && !opts.db.startsWith('sqlite:'))
    throw new VergeError('E_BAD_ARGUMENT', `--db must be postgres://… or sqlite:<path>, got '${opts.db}'`);
  return new SqliteDatabase(opts.db ? opts.db.slice('sqlite:'.length) : join(opts.dataDir, 'verge.db'));
}

/** The admin key file: read it if present, else create it exclusively (replicas on one volume agree). */
function loadOrCreateAdminKey(dataDir: string): { key: string; path: string } {
  const path = join(dataDir, ADMIN_KEY_FILE);
  try {
    writeFileSync(path, newSecret('vk_') + '\n', { flag: 'wx', mode: 0o600 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return { key: readFileSync(path, 'utf8').trim(), path };
}

export async function buildControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  mkdirSync(opts.dataDir, { recursive: true });
  const db = openDatabase(opts);
  try {
    await db.migrate(MIGRATIONS);
  } catch (e) {
    await db.close().catch(() => undefined);
    throw new VergeError('E_NETWORK', `cannot open database ${opts.db ?? 'sqlite'}: ${(e as Error).message}`);
  }
  const repo = new Repository(db);
  const artifacts = new ArtifactStore(opts.dataDir);
  const signingKey = loadOrCreateSigningKey(opts.dataDir);
  const admin = loadOrCreateAdminKey(opts.dataDir);
  if ((await repo.apiKeyRole(hashSecret(admin.key))) === null) {
    await repo.db.run(
      'INSERT INTO api_keys (key_hash, role, name, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (key_hash) DO NOTHING',
      [hashSecret(admin.key), 'admin', ADMIN_KEY_FILE, Date.now()],
    );
  }

  const instanceId = opts.instanceId
    ? `${SERVICE_USERNAME}-${opts.instanceId}`
    : `${SERVICE_USERNAME}-${randomBytes(4).toString('hex')}`;
  /** Write the external broker's auth files from the database (no-op without mosquittoAuthDir). */
  const syncBrokerAuth = async (): Promise<boolean> => {
    if (!opts.mosquittoAuthDir) return false;
    const username = opts.brokerUsername ?? SERVICE_USERNAME;
    const password = opts.brokerPassword ?? '';
    // deterministic salt for the service entry, so replicas write identical files
    const salt = createHash('sha256').update(`${username}:${password}`).digest().subarray(0, 12);
    const devices = (await repo.listDevices()).filter((d) => d.revoked_at === null && d.broker_hash !== null);
    return writeMosquittoAuthFiles(
      opts.mosquittoAuthDir,
      { username, passwordHash: mosquittoPasswordHash(password, salt) },
      devices.map((d) => ({ id: d.id, brokerHash: d.broker_hash! })),
    );
  };
  await syncBrokerAuth();
  const servicePassword = newSecret('svc_');
  let broker: EmbeddedBroker | null = null;
  /** Embedded broker admits devices only while the control plane's subscription is in place. */
  let acceptingDevices = false;
  let messaging: CloudMessaging | null = null;
  let brokerUrl: string | null = opts.broker ?? null;

  const deviceStatus = (d: DeviceRecord): Device['status'] =>
    d.revoked_at !== null
      ? 'revoked'
      : d.presence === 'online' && d.last_seen !== null && Date.now() - d.last_seen <= HEARTBEAT_TIMEOUT_MS
        ? 'online'
        : 'offline';

  const metrics = new ControlPlaneMetrics(
    async () => {
      const counts = { online: 0, offline: 0, revoked: 0 };
      for (const d of await repo.listDevices()) counts[deviceStatus(d)]++;
      return counts;
    },
    () => broker?.connectedDevices() ?? 0,
  );
  const artifactUrl = (sha256: string) => `/v${PROTOCOL_VERSION}/artifacts/${sha256}`;

  /** Publish a device's desired state (retained). Without a broker connection (inject-only
   *  tests) the state stays in the database and is published on start(). */
  const publishDesiredState = async (deviceId: string): Promise<void> => {
    if (!messaging) return;
    const models = await deployments.desiredModels(deviceId);
    const generation = await repo.nextGeneration(deviceId);
    await messaging.publish(deviceId, 'deploy', { device_id: deviceId, generation, models });
  };
  const deployments: DeploymentController = new DeploymentController({
    repo,
    metrics,
    artifactUrl,
    publishDesiredState,
  });

  const toDevice = (d: DeviceRecord): Device => ({
    id: d.id,
    name: d.name,
    status: deviceStatus(d),
    tags: d.tags,
    profile: d.profile,
    model: d.models[0]?.name ?? null,
    version: d.models[0]?.version ?? null,
    variant: d.models[0]?.variant ?? null,
    models: d.models.map((m) => ({ name: m.name, version: m.version, variant: m.variant })),
    last_seen: d.last_seen,
    enrolled_at: d.enrolled_at,
  });

  const findDevice = async (idOrName: string) => {
    const d = await repo.getDevice(idOrName);
    if (!d) throw new VergeError('E_NOT_FOUND', `no device '${idOrName}'`);
    return d;
  };

  const core: ControlPlaneCore = {
    repo,
    artifacts,
    metrics,
    deployments,
    signingKeyResponse: () => ({
      algorithm: 'ed25519',
      key_id: signingKey.keyId,
      public_key_pem: signingKey.publicKeyPem,
    }),

    async enroll(req) {
      const deviceId = `dev-${randomBytes(6).toString('hex')}`;
      const password = newSecret('');
      const dev = await repo.enrollDevice(hashSecret(req.token), {
        id: deviceId,
        name: req.name,
        secretHash: hashSecret(password),
        brokerHash: mosquittoPasswordHash(password),
        profile: req.profile,
      });
      metrics.enrollments.inc();
      await syncBrokerAuth();
      return {
        device_id: dev.id,
        name: dev.name,
        tags: dev.tags,
        credentials: { username: dev.id, password },
        mqtt_url: opts.publicMqttUrl ?? brokerUrl ?? '',
        signing_key: core.signingKeyResponse(),
        protocol_version: PROTOCOL_VERSION,
      };
    },

    async deviceConfig(deviceId) {
      const d = await findDevice(deviceId);
      return {
        device_id: d.id,
        name: d.name,
        tags: d.tags,
        mqtt_url: opts.publicMqttUrl ?? brokerUrl ?? '',
        signing_key: core.signingKeyResponse(),
        protocol_version: PROTOCOL_VERSION,
      };
    },

    async createEnrollToken(req) {
      const token = newSecret('et_');
      const expiresAt = Date.now() + (req.ttl_s ?? ENROLL_TOKEN_TTL_S) * 1000;
      const tags = req.tags ?? {};
      await repo.insertEnrollToken(hashSecret(token), tags, expiresAt);
      return { token, expires_at: expiresAt, tags };
    },

    async createApiKey(role, name) {
      const key = newSecret('vk_');
      await repo.insertApiKey(hashSecret(key), role, name);
      return { key, role, name };
    },

    listDevices: async () => (await repo.listDevices()).map(toDevice),
    getDevice: async (idOrName) => toDevice(await findDevice(idOrName)),

    async revokeDevice(idOrName) {
      const d = await findDevice(idOrName);
      await repo.revokeDevice(d.id);
      await syncBrokerAuth();
      if (messaging) {
        await messaging
          .publish(d.id, 'command', { device_id: d.id, command: 'revoked', reason: 'revoked by operator' })
          .catch(() => undefined);
        await messaging.clearRetained(d.id, 'deploy').catch(() => undefined);
      }
      broker?.disconnect(d.id);
      return toDevice((await repo.getDevice(d.id))!);
    },

    async uploadArtifact(body) {
      const a = await artifacts.put(body);
      await repo.recordArtifact(a.sha256, a.size);
      return a;
    },

    async publishModel(req) {
      const r = {
        variant: req.variant ?? 'fp32',
        precision: req.precision ?? 'fp32',
        profile: req.profile ?? null,
        parent: req.parent ?? null,
        optimization: req.optimization ?? null,
        metrics: req.metrics ?? {},
      };
      if (!semver.valid(req.version))
        throw new VergeError('E_BAD_ARGUMENT', `version '${req.version}' is not semver (like 1.2.0)`);
      if (r.parent !== null && !/^[A-Za-z0-9][A-Za-z0-9_.-]*@\S+$/.test(r.parent))
        throw new VergeError('E_BAD_ARGUMENT', `parent '${r.parent}' must be name@version`);
      const size = await repo.artifactSize(req.sha256);
      if (size === null || !artifacts.has(req.sha256))
        throw new VergeError('E_NOT_FOUND', `artifact ${req.sha256} was not uploaded (POST /v1/artifacts first)`);
      await repo.upsertModelVersion({
        name: req.name,
        version: req.version,
        parent: r.parent,
        optimization: r.optimization,
        metrics: r.metrics,
      });
      await repo.insertVariant(req.name, req.version, {
        variant: r.variant,
        precision: r.precision,
        profile: r.profile,
        sha256: req.sha256,
        size,
        signature: signArtifact(req.sha256, signingKey.privateKey),
        key_id: signingKey.keyId,
      });
      return (await repo.getModelVersion(req.name, req.version, artifactUrl))!;
    },

    async listModels(name) {
      const byName = new Map<string, ModelVersion[]>();
      for (const v of await repo.listModelVersions(name)) {
        const mv = (await repo.getModelVersion(v.name, v.version, artifactUrl))!;
        byName.set(v.name, [...(byName.get(v.name) ?? []), mv]);
      }
      return {
        models: [...byName.entries()].map(([n, versions]) => ({
          name: n,
          versions: versions.sort((a, b) => semver.compare(a.version, b.version)),
        })),
      };
    },

    async status() {
      const counts = { total: 0, online: 0, offline: 0, revoked: 0 };
      for (const d of await repo.listDevices()) {
        counts.total++;
        counts[deviceStatus(d)]++;
      }
      return {
        protocol_version: PROTOCOL_VERSION,
        broker: { kind: opts.broker ? 'external' : 'embedded', url: brokerUrl ?? '' },
        db: { kind: db.kind },
        devices: counts,
        models: await repo.countModels(),
        deployments: await repo.countDeployments(),
        telemetry: await repo.telemetryTotals(),
      };
    },
  };

  // ---- device messages ----
  const pendingHeartbeats = new Map<string, HeartbeatMessage>();
  const telemetry = new TelemetryIngest(repo, metrics, (fresh: TelemetryMessage[]) => {
    // new telemetry may decide a canary's health gate
    if (fresh.length) void deployments.tick().catch(() => undefined);
  });

  const handleMessage = async (deviceId: string, verb: DeviceVerb, payload: Buffer): Promise<void> => {
    metrics.mqttMessages.inc({ verb });
    if (payload.length === 0) return; // a cleared retained message
    let msg;
    try {
      msg = decodeMessage(verb, payload);
    } catch {
      metrics.rejectedMessages.inc({ verb });
      return;
    }
    if ((msg as { device_id?: string }).device_id !== deviceId) {
      // a device may only speak for itself (the broker ACL ties the topic to its login)
      metrics.rejectedMessages.inc({ verb });
      return;
    }
    switch (verb) {
      case 'telemetry':
        telemetry.push(msg as TelemetryMessage);
        break;
      case 'heartbeat':
        pendingHeartbeats.set(deviceId, msg as HeartbeatMessage);
        break;
      case 'status': {
        const s = msg as { state: 'online' | 'offline'; ts: number };
        // a heartbeat still buffered from before the device went away must not mark it online again
        if (s.state === 'offline') pendingHeartbeats.delete(deviceId);
        await repo.recordPresence(deviceId, s.state, Date.now());
        break;
      }
      case 'ack':
        await deployments.onAck(msg as AckMessage);
        break;
      default:
        break;
    }
  };

  const flushHeartbeats = async () => {
    const batch = [...pendingHeartbeats.values()];
    pendingHeartbeats.clear();
    const now = Date.now();
    await repo.recordHeartbeats(batch.map((h) => ({ id: h.device_id, profile: h.profile, models: h.models, at: now })));
  };

  // ---- HTTP app ----
  // Ajv must not coerce or fill defaults: zod (parse in each handler) is the authority, and Ajv's
  // coercion would turn an explicit null into '' before zod sees it
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: 16 * 1024 * 1024,
    ajv: { customOptions: { coerceTypes: false, useDefaults: false, removeAdditional: false } },
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'verge control plane',
        version: String(PROTOCOL_VERSION),
        description: 'Operator and agent API of verge (docs/protocol.md)',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'operator API key (admin.key or POST /v1/api-keys)' },
          device: { type: 'http', scheme: 'basic', description: 'device_id:password from enrollment' },
        },
      },
    },
  });
  installAuth(app, repo);
  app.setErrorHandler((err: FastifyError | VergeError, _req, reply) => {
    if (err instanceof HttpError)
      return reply.code(err.statusCode).send({ error: { code: err.code, message: err.message } });
    if (isVergeError(err)) {
      const status =
        {
          E_BAD_ARGUMENT: 400,
          E_PROTOCOL: 400,
          E_AUTH: 401,
          E_NOT_FOUND: 404,
          E_CONFLICT: 409,
          E_UNSUPPORTED: 422,
          E_NETWORK: 503,
        }[err.code as string] ?? 500;
      return reply.code(status).send({ error: { code: err.code, message: err.message } });
    }
    const fe = err as FastifyError;
    if (fe.validation) return reply.code(400).send({ error: { code: 'E_BAD_ARGUMENT', message: fe.message } });
    if (fe.statusCode && fe.statusCode < 500)
      return reply.code(fe.statusCode).send({ error: { code: 'E_BAD_ARGUMENT', message: fe.message } });
    app.log.error(err);
    return reply
      .code(500)
      .send({ error: { code: 'E_INTERNAL', message: fe.message.split('\n')[0] ?? 'internal error' } });
  });
  registerRoutes(app, core);
  await app.ready();

  let ticker: NodeJS.Timeout | null = null;
  let ticking = false;
  const cp: ControlPlane = {
    app,
    repo,
    metrics,
    deployments,
    signingKey,
    adminKey: admin.key,
    adminKeyPath: admin.path,
    url: null,
    mqttUrl: null,

    async start(startOpts = {}) {
      if (!opts.broker) {
        broker = await startEmbeddedBroker(
          {
            service: { username: SERVICE_USERNAME, password: servicePassword },
            acceptingDevices: () => acceptingDevices,
            async authenticateDevice(id, password) {
              const d = await repo.getDevice(id);
              return !!d && d.id === id && d.revoked_at === null && secretMatches(password, d.secret_hash);
            },
          },
          opts.mqttHost ?? '127.0.0.1',
          opts.mqttPort ?? 0,
        );
        brokerUrl = broker.url;
      }
      messaging = await CloudMessaging.connect({
        url: brokerUrl!,
        clientId: instanceId,
        username: opts.broker ? opts.brokerUsername : SERVICE_USERNAME,
        password: opts.broker ? opts.brokerPassword : servicePassword,
        external: !!opts.broker,
        shared: !!opts.broker && !!opts.sharedSubscriptions,
        persistentSession: !!opts.broker && !!opts.instanceId,
        onMessage: (deviceId, verb, payload) => {
          handleMessage(deviceId, verb, payload).catch((e) => app.log.error(e));
        },
      });
      if (!opts.broker) {
        // the embedded broker keeps retained messages in memory: re-publish every desired state
        for (const d of await repo.listDevices()) {
          if (d.revoked_at === null && (await repo.assignmentsOf(d.id)).length) await publishDesiredState(d.id);
        }
      }
      acceptingDevices = true; // subscribed, and every retained desired state is back in place
      const host = opts.host ?? '127.0.0.1';
      await app.listen({ port: startOpts.port ?? 0, host });
      const port = (app.server.address() as { port: number }).port;
      cp.url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
      cp.mqttUrl = brokerUrl;
      let lastAuthSync = Date.now();
      ticker = setInterval(() => {
        if (ticking) return;
        ticking = true;
        const syncAuth = Date.now() - lastAuthSync >= AUTH_SYNC_MS;
        if (syncAuth) lastAuthSync = Date.now();
        flushHeartbeats()
          .then(() => (syncAuth ? syncBrokerAuth() : false))
          .then(() => deployments.tick())
          .catch((e) => app.log.error(e))
          .finally(() => (ticking = false));
      }, opts.tickMs ?? DEFAULT_TICK_MS);
      return { url: cp.url, mqttUrl: brokerUrl! };
    },

    syncBrokerAuth,

    async flush() {
      await telemetry.flush();
      await flushHeartbeats();
    },

    async close() {
      if (ticker) clearInterval(ticker);
      // devices go first, so nothing they publish is acknowledged after we stop listening
      acceptingDevices = false;
      broker?.disconnectDevices();
      await new Promise((r) => setTimeout(r, SHUTDOWN_DRAIN_MS)); // let in-flight deliveries reach our client
      await messaging?.close().catch(() => undefined);
      messaging = null;
      await broker?.close();
      broker = null;
      await telemetry.close().catch(() => undefined);
      await flushHeartbeats().catch(() => undefined);
      await app.close();
      await db.close();
    },
  };

  return cp;
}

export { HttpError };
