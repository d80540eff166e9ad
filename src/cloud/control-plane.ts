/**
 * `buildControlPlane(opts)`: the verge control plane, composed here from its parts — state in
 * SQLite or PostgreSQL (repositories/), services per resource (devices.ts, enrollment.ts, keys.ts,
 * models.ts, deployments.ts, telemetry.ts), their HTTP routes as Fastify plugins (plugins/), and
 * the MQTT side (mqtt-transport.ts: embedded aedes broker or an external broker) whose device
 * messages a router hands to the services. The Fastify app is injectable in tests without a
 * socket; `start({port: 0})` listens for real. docs/architecture.md says how to add a resource.
 */
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { VergeError } from '../errors.ts';
import { MAX_TELEMETRY_BATCH, signArtifact, type StatusResponse } from '../protocol/index.ts';
import { ArtifactStore } from './artifacts.ts';
import { PostgresDatabase } from './db/postgres.ts';
import type { SqlDatabase } from './db/sql.ts';
import { SqliteDatabase } from './db/sqlite.ts';
import { MIGRATIONS } from './db/migrations.ts';
import { DeploymentController } from './deployments.ts';
import { DeviceMessageRouter } from './device-messages.ts';
import { DeviceRegistry, deviceStatus } from './devices.ts';
import { EdgeLoopService } from './edge-loop.ts';
import type { UploadLimits } from './edge-loop-limits.ts';
import { checkRateLimits, RequestRateLimiter, takeAnonymous, type RateLimits } from './rate-limit.ts';
import { serviceRetrainBackend } from './retrain-backend.ts';
import { RetrainScheduler, checkAutoRetrain, type AutoRetrainPolicy } from './retrain-scheduler.ts';
import { FleetEvents, announceWrites } from './fleet-events.ts';
import { HostedModels } from './hosted-models.ts';
import { EnrollmentService } from './enrollment.ts';
import { FederatedLearning } from './federated.ts';
import { createHttpApp } from './http-app.ts';
import { KeyService, loadOrCreateAdminKey } from './keys.ts';
import { ControlPlaneMetrics } from './metrics.ts';
import { ModelRegistry } from './models.ts';
import { syncMosquittoAuth } from './mosquitto-auth.ts';
import { MqttTransport } from './mqtt-transport.ts';
import { deploymentRoutes } from './plugins/deployments.ts';
import { deviceRoutes } from './plugins/devices.ts';
import { edgeLoopRoutes } from './plugins/edge-loop.ts';
import { enrollmentRoutes } from './plugins/enrollment.ts';
import { eventRoutes } from './plugins/events.ts';
import { flRoutes } from './plugins/fl.ts';
import { keyRoutes } from './plugins/keys.ts';
import { modelRoutes } from './plugins/models.ts';
import { mqttWebSocketRoutes } from './plugins/mqtt-ws.ts';
import { deviceMayDownload, wrappedArtifactKey } from './artifact-access.ts';
import { systemRoutes } from './plugins/system.ts';
import { telemetryRoutes } from './plugins/telemetry.ts';
import { webRoutes } from './plugins/web.ts';
import { PresenceRecorder } from './presence.ts';
import { openRepositories, type Repositories } from './repositories/index.ts';
import { secretMatches, type SigningKey } from './secrets.ts';
import { SigningKeyring } from './signing-keys.ts';
import { fleetStatus } from './status.ts';
import { loadCloudTls, type CloudTls, type CloudTlsOptions } from './tls.ts';
import { TelemetryIngest, summarizeTelemetry } from './telemetry.ts';
import { TelemetryReceipts } from './telemetry-receipts.ts';
import { deviceTelemetrySeries, seriesQuery } from './telemetry-series.ts';

export { ENROLL_TOKEN_TTL_S } from './enrollment.ts';

export interface ControlPlaneOptions {
  /** Holds the SQLite file, artifacts, the signing keys and admin.key. */
  dataDir: string;
  /**
   * Create a new signing key when the active one's file is missing although the database has
   * devices or models (`verge cloud --init`); without it that start fails (signing-keys.ts).
   */
  init?: boolean;
  /** One-line notices of the start (a key created by --init). */
  log?: (line: string) => void;
  /** `postgres://…` for PostgreSQL; default SQLite at `<dataDir>/verge.db`. */
  db?: string;
  /** PostgreSQL schema for all tables (tests use a unique one per run). Default `public`. */
  pgSchema?: string;
  /** External broker URL (`mqtt://host:port`); default: embedded aedes broker. */
  broker?: string;
  /** Credentials of the control plane on an external broker. */
  brokerUsername?: string;
  brokerPassword?: string;
  /** PEM CA file the control plane verifies an external `mqtts://` broker against (default: the system's). */
  brokerCaFile?: string;
  /** HTTPS, MQTTS and WSS (tls.ts); absent: plain HTTP and MQTT. */
  tls?: CloudTlsOptions;
  /** Deadline of a JSON request body in ms (default 30 s, http-app.ts BODY_TIMEOUT_MS). */
  httpBodyTimeoutMs?: number;
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
  /**
   * The built browser app (dashboard, training page) served at `/`; null: none. Default: the
   * package's dist/app (`npm run build:web`).
   */
  webDir?: string | null;
  /** Per-device bounds on edge-loop uploads (rate and stored bytes; default DEFAULT_UPLOAD_LIMITS). */
  uploadLimits?: Partial<UploadLimits>;
  /** HTTP requests per API key / device / address (default DEFAULT_RATE_LIMITS); false: unlimited. */
  rateLimits?: Partial<RateLimits> | false;
  /**
   * Retrain drifted models and roll them out as canaries without an operator
   * (retrain-scheduler.ts; true: DEFAULT_AUTO_RETRAIN). Default off: a run trains on this
   * process's cores and publishes and deploys on its own.
   */
  autoRetrain?: Partial<AutoRetrainPolicy> | boolean;
}

/** dist/app (the built web app) of this package, from src/cloud/ and from dist/cloud/ alike. */
export const DEFAULT_WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/app');

/** Telemetry a shutdown could not store in time (TelemetryIngest.close), read back on start. */
const TELEMETRY_SPOOL_FILE = 'telemetry-spool.jsonl';

/** Deployment re-evaluation period; health-gate timeouts are seconds to minutes. */
const DEFAULT_TICK_MS = 1000;
/** Replicas rewrite the broker auth files this often, so one replica's enrollment reaches every file writer. */
const AUTH_SYNC_MS = 5000;

export interface ControlPlane {
  app: FastifyInstance;
  repos: Repositories;
  metrics: ControlPlaneMetrics;
  deployments: DeploymentController;
  /** Federated learning: jobs, rounds, device uploads. */
  fl: FederatedLearning;
  /** The edge data loop: policies, collected items, hosted models. */
  edgeLoop: EdgeLoopService;
  hosted: HostedModels;
  /** Retraining on drift without an operator (off unless `autoRetrain`). */
  retrain: RetrainScheduler;
  signingKey: SigningKey;
  /** The admin API key in `<dataDir>/admin.key`. */
  adminKey: string;
  adminKeyPath: string;
  /** The client id this process connects to the broker with. */
  mqttClientId: string;
  /** The private CA's certificate file agents verify this control plane with (`--tls-auto`); null without TLS. */
  caFile: string | null;
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

/** Every service of one control-plane process, wired together; plugins get the parts they need. */
export interface CloudServices {
  repos: Repositories;
  metrics: ControlPlaneMetrics;
  transport: MqttTransport;
  router: DeviceMessageRouter;
  keys: KeyService;
  devices: DeviceRegistry;
  enrollment: EnrollmentService;
  models: ModelRegistry;
  deployments: DeploymentController;
  telemetry: TelemetryIngest;
  /** Receipts of stored telemetry to the devices that asked (telemetry-receipts.ts). */
  receipts: TelemetryReceipts;
  presence: PresenceRecorder;
  fl: FederatedLearning;
  edgeLoop: EdgeLoopService;
  hosted: HostedModels;
  /** Change notifications for live views (GET /v1/events). */
  events: FleetEvents;
  retrain: RetrainScheduler;
  status(): Promise<StatusResponse>;
  syncBrokerAuth(): Promise<boolean>;
  /** Publish a device's desired state (retained); a no-op until MQTT is up (start() publishes it). */
  publishDesiredState(deviceId: string): Promise<void>;
  republishDesiredStates(): Promise<void>;
}

async function openDatabase(opts: ControlPlaneOptions): Promise<SqlDatabase> {
  let db: SqlDatabase;
  if (opts.db && /^postgres(ql)?:\/\//.test(opts.db)) db = new PostgresDatabase(opts.db, opts.pgSchema ?? 'public');
  else if (opts.db && !opts.db.startsWith('sqlite:'))
    throw new VergeError('E_BAD_ARGUMENT', `--db must be postgres://… or sqlite:<path>, got '${opts.db}'`);
  else db = new SqliteDatabase(opts.db ? opts.db.slice('sqlite:'.length) : join(opts.dataDir, 'verge.db'));
  try {
    await db.migrate(MIGRATIONS);
  } catch (e) {
    await db.close().catch(() => undefined);
    throw new VergeError('E_NETWORK', `cannot open database ${opts.db ?? 'sqlite'}: ${(e as Error).message}`);
  }
  return db;
}

/**
 * Construct the services; each gets its dependencies through a small host interface.
 * Long because: wiring only: one constructor per service with its host interface, and the
 * device-message routing; no logic of its own.
 */
function createServices(
  opts: ControlPlaneOptions,
  repos: Repositories,
  signingKey: SigningKeyring,
  events: FleetEvents,
  tls: CloudTls | null,
): CloudServices {
  const transport = new MqttTransport({ ...opts, tls }, async (id, password) => {
    const d = await repos.devices.credentials(id);
    return !!d && d.revoked_at === null && secretMatches(password, d.secret_hash);
  });
  const syncBrokerAuth = async (): Promise<boolean> =>
    opts.mosquittoAuthDir
      ? syncMosquittoAuth(
          opts.mosquittoAuthDir,
          { username: transport.login.username!, password: transport.login.password! },
          repos.devices,
          repos.brokerAccounts,
        )
      : false;
  const devices = new DeviceRegistry(repos.devices, {
    async onRevoked(id) {
      await syncBrokerAuth();
      if (transport.started) {
        await transport
          .publish(id, 'command', { device_id: id, command: 'revoked', reason: 'revoked by operator' })
          .catch(() => undefined);
        await transport.clearRetained(id, 'deploy').catch(() => undefined);
      }
      transport.disconnect(id);
    },
  });
  const metrics = new ControlPlaneMetrics(
    async () => {
      const { online, offline, revoked } = await devices.counts();
      return { online, offline, revoked };
    },
    () => transport.connectedDevices(),
    () => transport.disconnects,
  );
  const keys = new KeyService(repos.apiKeys, signingKey, async () => {
    // a rotation: what was signed with an older key is signed again with the active one (devices
    // enrolled from now on trust only it); every device is told the key set changed
    await repos.models.resignVariants(signingKey.keyId, (sha256) => signArtifact(sha256, signingKey.privateKey));
    await republishDesiredStates();
    await fl.republish();
  });
  const models = new ModelRegistry(repos.models, new ArtifactStore(opts.dataDir), signingKey);
  const publishDesiredState = async (deviceId: string): Promise<void> => {
    if (!transport.started) return;
    const desired = await deployments.desiredModels(deviceId);
    const policies = await repos.edgeLoop.policies(desired.map((d) => d.deployment_id));
    for (const d of desired) {
      const p = policies.get(d.deployment_id);
      if (p) Object.assign(d, { edge_loop: p });
    }
    const generation = await repos.devices.nextGeneration(deviceId);
    await transport.publish(deviceId, 'deploy', {
      device_id: deviceId,
      generation,
      models: desired,
      key_set: signingKey.keySet().seq,
    });
  };
  /** Every device with assignments gets its desired state again (start, key rotation). */
  const republishDesiredStates = async (): Promise<void> => {
    for (const d of await repos.devices.list()) {
      if (d.revoked_at === null && (await repos.deployments.assignmentsOf(d.id)).length)
        await publishDesiredState(d.id);
    }
  };
  const deployments: DeploymentController = new DeploymentController({
    deployments: repos.deployments,
    devices: repos.devices,
    telemetry: repos.telemetry,
    modelVersion: (name, version) => models.version(name, version),
    metrics,
    publishDesiredState,
  });
  const enrollment = new EnrollmentService({
    devices: repos.devices,
    metrics,
    signingKey: () => keys.signingKeyResponse(),
    mqttUrl: () => opts.publicMqttUrl ?? transport.url ?? '',
    onEnrolled: async () => void (await syncBrokerAuth()),
    ...(tls ? { issueClientCertificate: (id: string, pem: string) => tls.issueClientCertificate(id, pem) } : {}),
  });
  const telemetry = new TelemetryIngest(
    repos.telemetry,
    metrics,
    (fresh) => {
      // new telemetry may decide a canary's health gate
      if (fresh.length) void deployments.tick().catch(() => undefined);
    },
    join(opts.dataDir, TELEMETRY_SPOOL_FILE),
  );
  const presence = new PresenceRecorder(repos.devices);
  const fl = new FederatedLearning({
    fl: repos.fl,
    devices: repos.devices,
    models,
    artifacts: models.artifacts,
    recordArtifact: (sha256, size) => repos.models.recordArtifact(sha256, size),
    signingKey,
    deviceOnline: (d) => deviceStatus(d) === 'online',
    async publishTask(deviceId, task) {
      if (!transport.started) return;
      if (task) await transport.publish(deviceId, 'fl', task);
      else await transport.clearRetained(deviceId, 'fl');
    },
  });
  const hosted = new HostedModels({
    version: (name, version) => models.version(name, version),
    versions: async (name) => (await repos.models.listVersions(name)).map((v) => v.version),
    readArtifact: (sha256) => models.modelBytes(sha256),
  });
  const edgeLoop = new EdgeLoopService({
    repo: repos.edgeLoop,
    async deployment(id) {
      const d = await repos.deployments.get(id);
      return d
        ? { id: d.id, model: d.model, devices: (await repos.deployments.devices(id)).map((x) => x.device_id) }
        : null;
    },
    publishDesiredState,
    codecContext: { learned: (ref) => hosted.learnedDecoder(ref) },
    uploadLimits: opts.uploadLimits,
    classCount: (name, version) => hosted.classCount(name, version),
    async learnedCodecs() {
      return (await repos.models.listVersions())
        .filter((v) => v.name.endsWith('-decoder'))
        .map((v) => `${v.name.slice(0, -'-decoder'.length)}@${v.version}`);
    },
  });
  edgeLoop.registerMetrics(metrics.registry);
  const retrain = new RetrainScheduler(
    {
      backend: serviceRetrainBackend({ models, deployments, edgeLoop, repos }),
      driftModels: (since) => repos.edgeLoop.driftModels(since),
      log: opts.log ?? (() => undefined),
    },
    opts.autoRetrain ? checkAutoRetrain(opts.autoRetrain === true ? {} : opts.autoRetrain) : null,
  );
  const router = new DeviceMessageRouter(metrics);
  // every receipt says this cloud takes batched telemetry: agents enrolled with an older one learn it
  const receipts = new TelemetryReceipts((deviceId, ids) =>
    transport.publish(
      deviceId,
      'command',
      { device_id: deviceId, command: 'receipt', telemetry: ids, telemetry_batch: MAX_TELEMETRY_BATCH },
      0,
    ),
  );
  // resolves once stored: the embedded broker acknowledges telemetry only then (broker.ts), and
  // a record that asks for it is named in a receipt to its device (telemetry-receipts.ts)
  router.on('telemetry', async (m) => {
    await telemetry.pushDurable(m);
    if (m.receipt) receipts.add(m.device_id, m.id);
  });
  router.on('heartbeat', (m) => presence.heartbeat(m));
  router.on('status', (m) => presence.status(m));
  router.on('ack', (m) => deployments.onAck(m));
  const status = () =>
    fleetStatus({
      devices,
      models,
      deployments: repos.deployments,
      telemetry: repos.telemetry,
      broker: () => ({ kind: transport.external ? 'external' : 'embedded', url: transport.url ?? '' }),
      db: { kind: repos.db.kind },
    });
  return {
    repos,
    metrics,
    transport,
    router,
    keys,
    devices,
    enrollment,
    models,
    deployments,
    telemetry,
    receipts,
    presence,
    fl,
    edgeLoop,
    hosted,
    events,
    retrain,
    status,
    syncBrokerAuth,
    publishDesiredState,
    republishDesiredStates,
  };
}

/** The HTTP app with one plugin per resource, each given the service interface it needs. */
async function createApp(opts: ControlPlaneOptions, s: CloudServices, tls: CloudTls | null): Promise<FastifyInstance> {
  const rateLimits = opts.rateLimits === false ? null : checkRateLimits(opts.rateLimits);
  const rateLimiter = new RequestRateLimiter();
  const app = await createHttpApp({
    logger: opts.logger,
    bodyTimeoutMs: opts.httpBodyTimeoutMs,
    rateLimits,
    rateLimiter,
    credentials: {
      apiKeyRole: (key) => s.keys.roleOf(key),
      device: (id) => s.repos.devices.get(id),
      requireClientCert: !!tls?.requireClientCert,
    },
    https: tls?.serverOptions(),
  });
  await app.register(systemRoutes, {
    system: { metrics: s.metrics, status: s.status, ingestion: () => s.telemetry.health() },
  });
  await app.register(keyRoutes, { keys: s.keys });
  await app.register(enrollmentRoutes, { enrollment: s.enrollment });
  await app.register(deviceRoutes, { devices: s.devices });
  await app.register(modelRoutes, {
    models: {
      artifacts: s.models.artifacts,
      uploadArtifact: (body) => s.models.uploadArtifact(body),
      publish: (req) => s.models.publish(req),
      list: (name) => s.models.list(name),
      deviceMayDownload: (deviceId, sha256) =>
        deviceMayDownload({ desired: (id) => s.deployments.desiredModels(id), fl: s.repos.fl }, deviceId, sha256),
      artifactKey: (deviceId, sha256) =>
        wrappedArtifactKey(
          {
            desired: (id) => s.deployments.desiredModels(id),
            fl: s.repos.fl,
            contentKey: (sha) => s.models.contentKey(sha),
            deviceKey: (id) => s.repos.devices.encryptionKey(id),
          },
          deviceId,
          sha256,
        ),
    },
  });
  await app.register(deploymentRoutes, { deployments: s.deployments });
  await app.register(flRoutes, { fl: s.fl });
  await app.register(edgeLoopRoutes, {
    loop: s.edgeLoop,
    hosted: { predict: (target, body, headers) => s.hosted.predict(target, body, headers, s.edgeLoop.codecContext) },
    retrain: s.retrain,
  });
  await app.register(telemetryRoutes, {
    telemetry: {
      summary: (since, model, page) => summarizeTelemetry(s.repos.telemetry, since, model, page),
      deviceSeries: async (device, q) =>
        deviceTelemetrySeries((await s.devices.get(device)).id, seriesQuery(q), (...a) =>
          s.repos.telemetry.ofDevice(...a),
        ),
    },
  });
  await app.register(eventRoutes, { events: s.events });
  await app.register(mqttWebSocketRoutes, {
    brokerUrl: () => s.transport.url,
    brokerTls: s.transport.clientTls(),
    ...(rateLimits ? { admit: (address: string) => takeAnonymous(rateLimiter, rateLimits, address) } : {}),
  });
  await app.register(webRoutes, { webDir: opts.webDir === undefined ? DEFAULT_WEB_DIR : opts.webDir });
  await app.ready();
  return app;
}

export async function buildControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  if (opts.rateLimits !== false) checkRateLimits(opts.rateLimits); // a bad limit fails before anything opens
  if (opts.autoRetrain) checkAutoRetrain(opts.autoRetrain === true ? {} : opts.autoRetrain);
  mkdirSync(opts.dataDir, { recursive: true });
  const db = await openDatabase(opts);
  const events = new FleetEvents();
  const repos = announceWrites(openRepositories(db), events);
  let signingKey: SigningKeyring;
  try {
    const fleetExists =
      (await db.all('SELECT 1 FROM devices LIMIT 1')).length > 0 ||
      (await db.all('SELECT 1 FROM model_variants LIMIT 1')).length > 0;
    signingKey = SigningKeyring.open(opts.dataDir, { init: opts.init, fleetExists, log: opts.log });
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
  const admin = loadOrCreateAdminKey(opts.dataDir);
  // verge writes the broker's accounts and none was given: a password derived from the admin key
  // is secret and the same across restarts (the broker knows it without a reload)
  if (opts.mosquittoAuthDir && !opts.brokerPassword)
    opts = {
      ...opts,
      brokerPassword: createHmac('sha256', admin.key).update('verge broker login').digest('base64url'),
    };
  let tls: CloudTls | null;
  try {
    tls = loadCloudTls(opts.dataDir, opts.tls ?? {});
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
  const s = createServices(opts, repos, signingKey, events, tls);
  await s.keys.registerAdminKey(admin.key);
  await s.syncBrokerAuth();
  const app = await createApp(opts, s, tls);

  let ticker: NodeJS.Timeout | null = null;
  const cp: ControlPlane = {
    app,
    repos,
    metrics: s.metrics,
    deployments: s.deployments,
    fl: s.fl,
    edgeLoop: s.edgeLoop,
    hosted: s.hosted,
    retrain: s.retrain,
    signingKey,
    adminKey: admin.key,
    adminKeyPath: admin.path,
    mqttClientId: s.transport.login.clientId,
    caFile: tls?.caFile ?? null,
    url: null,
    mqttUrl: null,

    async start(startOpts = {}) {
      const mqttUrl = await s.transport.start((deviceId, verb, payload) =>
        s.router.handle(deviceId, verb, payload).catch((e) => {
          app.log.error(e);
          throw e;
        }),
      );
      // the embedded broker keeps retained messages in memory: re-publish every desired state
      if (!s.transport.external) await s.republishDesiredStates();
      await s.fl.republish();
      await s.telemetry.restoreSpool();
      s.transport.acceptDevices(); // subscribed, and every retained desired state is back in place
      const host = opts.host ?? '127.0.0.1';
      await app.listen({ port: startOpts.port ?? 0, host });
      const port = (app.server.address() as { port: number }).port;
      cp.url = `${tls ? 'https' : 'http'}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
      cp.mqttUrl = mqttUrl;
      ticker = startTicker(s, opts.tickMs ?? DEFAULT_TICK_MS, (e) => app.log.error(e));
      s.retrain.start();
      return { url: cp.url, mqttUrl };
    },

    syncBrokerAuth: s.syncBrokerAuth,

    async flush() {
      await s.telemetry.flush();
      await s.presence.flush();
    },

    async close() {
      if (ticker) clearInterval(ticker);
      await s.retrain.stop();
      await s.transport.close();
      await s.telemetry.close().catch(() => undefined);
      s.receipts.close(); // after the transport: nothing is sent, the devices resend what was not named
      await s.presence.flush().catch(() => undefined);
      await app.close();
      s.events.close();
      await s.hosted.close().catch(() => undefined);
      await db.close();
    },
  };
  return cp;
}

/** Periodic work: buffered heartbeats, broker auth files (every AUTH_SYNC_MS), deployment timeouts and gates. */
function startTicker(s: CloudServices, tickMs: number, onError: (e: unknown) => void): NodeJS.Timeout {
  let ticking = false;
  let lastAuthSync = Date.now();
  return setInterval(() => {
    if (ticking) return;
    ticking = true;
    const syncAuth = Date.now() - lastAuthSync >= AUTH_SYNC_MS;
    if (syncAuth) lastAuthSync = Date.now();
    s.presence
      .flush()
      .then(() => (syncAuth ? s.syncBrokerAuth() : false))
      .then(() => s.deployments.tick())
      .then(() => s.fl.tick())
      .catch(onError)
      .finally(() => (ticking = false));
  }, tickMs);
}
