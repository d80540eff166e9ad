/**
 * The edge agent: serves models over its local API, keeps them in step with the desired state the
 * cloud publishes, and reports back. Works offline: the last good models load from the data dir at
 * start, telemetry and acks queue in SQLite until the broker takes them, and the MQTT session keeps
 * reconnecting with backoff.
 *
 * Deployment path for one model: received → pick the variant for this profile → download (resume
 * from a partial file) → sha256 → ed25519 signature of the digest → verified → load a session →
 * atomic swap (in-flight requests finish on the old session) → loaded. A digest or signature
 * mismatch is `rejected`, a download or load failure `failed`; either way the old model stays.
 */
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { type Dataset, learnedCodecModels, type LearnedCodecRunner } from '../data/browser.ts';
import { VergeError, isVergeError } from '../errors.ts';
import {
  HEARTBEAT_INTERVAL_MS,
  decodeMessage,
  deviceTopic,
  encodeMessage,
  parseDeviceTopic,
  type AckState,
  type ArtifactRef,
  type DeployMessage,
  type DesiredModel,
  type DeviceProfile,
  type MessageInput,
  deviceEncryptionPublicKey,
  generateDeviceEncryptionKey,
  WrappedArtifactKey,
} from '../protocol/index.ts';
import { AgentStore, type ActiveModel, type AgentIdentity } from './agent-store.ts';
import { downloadArtifact } from './artifact-download.ts';
import { AgentArtifactKeys } from './artifact-keys.ts';
import { deviceAuthHeader, enroll, joinUrl } from './enrollment.ts';
import { InferenceStats } from './inference-stats.ts';
import { buildLocalApi, type PredictLimits } from './local-api.ts';
import { checkApiBinding } from './local-api-auth.ts';
import { CloudChannel } from './cloud-channel.ts';
import { MqttSession, backoffDelay, deviceSessionOptions } from './mqtt-session.ts';
import { OutboxPump } from './outbox-pump.ts';
import { FlParticipant } from './fl-participant.ts';
import { nodeFlPlatform } from './fl-node-platform.ts';
import { flLocalData } from './fl-local-data.ts';
import type { CollectedDatasetOptions } from './collected-dataset.ts';
import { AgentEdgeLoop } from './edge-loop.ts';
import { detectProfile } from './profile.ts';
import { AgentKeyTrust } from './signing-keys.ts';
import { ServedModels, loadModelBytes, type LoadedModel } from './served-models.ts';
import { chooseVariant, variantMemory } from './variant-choice.ts';

export const AGENT_VERSION = '0.1.0';
/** Telemetry window: how often inference statistics become a queued telemetry record. */
export const TELEMETRY_INTERVAL_MS = 5_000;
/** Download attempts per deployment before the agent acks `failed` (the next deploy or reconnect retries). */
export const DOWNLOAD_ATTEMPTS = 5;
/** RSA size of the key pair behind the client certificate (NIST SP 800-57: 112-bit strength beyond 2030). */
const CLIENT_KEY_BITS = 2048;
/** At most one "disk full" line per this period (every telemetry window would log otherwise). */
const DISK_FULL_LOG_MS = 60_000;

export interface EdgeAgentOptions {
  /** Where identity, models and the outbox live; a restart with the same dir resumes. */
  dataDir: string;
  /** Cloud base URL; needed for the first start (enrollment) and for artifact downloads. */
  cloudUrl?: string;
  /** One-time enrollment token; needed only when the data dir holds no identity yet. */
  enrollToken?: string;
  name?: string;
  profile?: DeviceProfile;
  /** Local API port (0 = any free port; default: the port of the last run, else any). */
  port?: number;
  /** Local API bind address (default 127.0.0.1); any other address needs `apiToken`. */
  host?: string;
  /** Bearer token the local API requires (local-api-auth.ts); without it, loopback callers only. */
  apiToken?: string;
  /** Use this broker instead of the one the cloud named at enrollment. */
  brokerUrl?: string;
  /** PEM CA file the cloud's and broker's TLS certificates must chain to (default: the system's CAs). */
  caFile?: string;
  /** Allow http:// and mqtt:// to a host other than loopback (cloud-channel.ts; default: refused). */
  allowPlaintext?: boolean;
  heartbeatIntervalMs?: number;
  telemetryIntervalMs?: number;
  /** Resend a telemetry record no receipt named after this long (default RECEIPT_TIMEOUT_MS, outbox-pump.ts). */
  receiptTimeoutMs?: number;
  /**
   * Telemetry records one MQTT message may carry at most (default OUTBOX_BATCH; 1: one record per
   * message). The cloud's own bound applies too: a cloud that did not say it takes batches gets none.
   */
  telemetryBatch?: number;
  /** onnxruntime intra-op threads per model session (default 1: several agents share a host in tests and the quickstart). */
  sessionThreads?: number;
  /** Caps and load shedding of the local predict API (defaults: DEFAULT_PREDICT_LIMITS in local-api.ts). */
  predictLimits?: Partial<PredictLimits>;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Reconnect backoff bounds (tests shorten them). */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /**
   * The device's local training data for federated learning (`verge agent --data`): a loader,
   * called once when the first FL task arrives. Without it the agent takes no FL tasks.
   */
  localData?: () => Promise<Dataset>;
  /**
   * Federated learning also (or only) on the items this agent collected (edge data loop;
   * `verge agent --fl-collected`): src/edge/fl-local-data.ts joins them with `localData`.
   */
  flCollected?: CollectedDatasetOptions;
  /** Period of collected-item uploads (edge data loop; tests shorten it). */
  uploadIntervalMs?: number;
}

export interface AckRecord {
  deployment_id: string;
  model: string;
  version: string;
  variant?: string;
  state: AckState;
  error?: { code: string; message: string };
}

export interface EdgeAgentEvents {
  connected: [];
  disconnected: [reason: string];
  refused: [reason: string];
  revoked: [];
  ack: [ack: AckRecord];
  /** A new model is being served. */
  swapped: [model: LoadedModel];
}

export type AgentConnectionState = 'offline' | 'connecting' | 'online' | 'refused' | 'revoked';

function sanitizeName(n: string): string {
  const s = n
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return s || 'device';
}

export class EdgeAgent extends EventEmitter<EdgeAgentEvents> {
  readonly served = new ServedModels();
  readonly stats: InferenceStats;
  readonly api: FastifyInstance;
  url = '';
  state: AgentConnectionState = 'offline';
  private session?: MqttSession;
  private pump?: OutboxPump;
  private timers: NodeJS.Timeout[] = [];
  private readonly startedAt = Date.now();
  private desired?: DeployMessage;
  private converging?: Promise<void>;
  private retryTimer?: NodeJS.Timeout;
  private retryAttempt = 0;
  private stopped = false;
  private diskFullLoggedAt = 0;
  private readonly downloadAbort = new AbortController();
  /** Federated-learning participation (present when the agent has local data). */
  readonly fl?: FlParticipant;
  /** The edge data loop: collection, uplink, joint inference (docs/edge-loop.md). */
  readonly loop: AgentEdgeLoop;
  /** The cloud signing keys this device trusts (enrollment's, then rotations it verified). */
  readonly keys: AgentKeyTrust;
  /** Content keys of confidential artifacts, wrapped to this device's X25519 key. */
  private readonly artifactKeys: AgentArtifactKeys;

  private constructor(
    readonly store: AgentStore,
    readonly identity: AgentIdentity,
    readonly profile: DeviceProfile,
    private readonly opts: EdgeAgentOptions,
    private readonly channel: CloudChannel,
  ) {
    super();
    this.stats = new InferenceStats({ device: identity.name });
    const cloudFetch = channel.fetch;
    this.keys = new AgentKeyTrust({
      cloudUrl: () => this.identity.cloud_url,
      fetch: cloudFetch,
      authorization: () => deviceAuthHeader(this.identity.device_id, this.identity.password),
      enrolledKey: identity.signing_key,
      load: () => store.keyTrust(),
      save: (t) => store.saveKeyTrust(t),
      log: (line) => this.log(line),
    });
    let keyRegistered = !!identity.encryption_key_registered;
    this.artifactKeys = new AgentArtifactKeys({
      deviceId: identity.device_id,
      cloudUrl: () => this.identity.cloud_url,
      fetch: cloudFetch,
      authorization: () => deviceAuthHeader(this.identity.device_id, this.identity.password),
      key: {
        publicKey: deviceEncryptionPublicKey(identity.encryption_key!),
        privateKeyPem: identity.encryption_key!,
      },
      registered: () => keyRegistered,
      markRegistered: () => {
        keyRegistered = true;
        store.saveIdentity({ ...(store.identity() ?? this.identity), encryption_key_registered: true });
      },
      wrappedKey: (sha) => {
        const w = WrappedArtifactKey.safeParse(store.wrappedKey(sha));
        return w.success ? w.data : undefined;
      },
      saveWrappedKey: (sha, w) => store.saveWrappedKey(sha, w),
    });
    this.loop = new AgentEdgeLoop({
      db: store.db,
      deviceId: identity.device_id,
      password: identity.password,
      cloudUrl: () => this.identity.cloud_url,
      fetch: cloudFetch,
      codecContext: { learned: async (ref) => this.learnedCodec(ref) },
      log: (line) => this.log(line),
      uploadIntervalMs: opts.uploadIntervalMs,
    });
    this.api = buildLocalApi({
      served: this.served,
      stats: this.stats,
      agentInfo: () => this.info(),
      afterPredict: (m, feeds, outputs) => this.loop.afterPredict(m, feeds, outputs),
      limits: opts.predictLimits,
      apiToken: opts.apiToken,
    });
    if (opts.localData || opts.flCollected)
      this.fl = new FlParticipant({
        identity,
        platform: nodeFlPlatform(opts.dataDir, cloudFetch),
        fetch: cloudFetch,
        localData: () => flLocalData({ data: opts.localData, collected: opts.flCollected, store: this.loop.store }),
        checkSignature: (ref) => this.keys.check(ref),
        log: (line) => this.log(line),
        threads: opts.sessionThreads ?? 1,
      });
  }

  get deviceId(): string {
    return this.identity.device_id;
  }

  get name(): string {
    return this.identity.name;
  }

  private log(line: string): void {
    this.opts.log?.(`[${this.identity.name}] ${line}`);
  }

  /**
   * Open the data dir, enroll when it holds no identity, serve the last good models, start the
   * local API and the MQTT session. Throws (E_NETWORK, E_AUTH, ...) only when a first enrollment
   * fails; once enrolled, an unreachable cloud or broker just means "offline, retrying".
   */
  static async start(opts: EdgeAgentOptions): Promise<EdgeAgent> {
    checkApiBinding(opts.host ?? '127.0.0.1', opts.apiToken);
    const channel = new CloudChannel({ caFile: opts.caFile, allowPlaintext: opts.allowPlaintext });
    if (opts.cloudUrl) channel.check(opts.cloudUrl, '--cloud');
    if (opts.brokerUrl) channel.check(opts.brokerUrl, '--broker');
    const profile = opts.profile ?? detectProfile();
    // Enroll before touching the disk, so a refused or unreachable first start leaves nothing behind.
    let enrolled: AgentIdentity | undefined;
    if (!existsSync(join(opts.dataDir, 'agent.db')) || !AgentStore.peekIdentity(opts.dataDir)) {
      if (!opts.cloudUrl || !opts.enrollToken) {
        throw new VergeError(
          'E_BAD_ARGUMENT',
          `${opts.dataDir} holds no enrolled agent: give --cloud URL and --enroll-token T`,
        );
      }
      enrolled = await enrollAgent(opts, opts.cloudUrl, opts.enrollToken, profile, channel);
    }
    const store = new AgentStore(opts.dataDir);
    try {
      let identity = store.identity();
      if (enrolled) {
        identity = enrolled;
        store.saveIdentity(identity);
        opts.log?.(`[${identity.name}] enrolled as ${identity.device_id}`);
      } else if (opts.cloudUrl && opts.cloudUrl !== identity!.cloud_url) {
        // The cloud moved (new address, same control plane): keep the identity, follow the URL.
        identity = { ...identity!, cloud_url: opts.cloudUrl };
        store.saveIdentity(identity);
      }
      if (!identity!.encryption_key) {
        // enrolled before confidential artifacts: a key now, registered when first needed
        identity = { ...identity!, encryption_key: generateDeviceEncryptionKey().privateKeyPem };
        store.saveIdentity(identity);
      }
      // what an earlier start saved is held to the same rule (a copied data dir, an old enrollment)
      channel.check(identity!.cloud_url, 'the enrolled cloud URL');
      if (!opts.brokerUrl) channel.check(identity!.mqtt_url, 'the broker URL from enrollment');
      const client = identity!.client_certificate
        ? { cert: identity!.client_certificate, key: identity!.client_key! }
        : undefined;
      const agent = new EdgeAgent(store, identity!, profile, opts, channel.withClientCertificate(client));
      await agent.loadLastGood();
      await agent.listen();
      agent.connect();
      agent.startTimers();
      return agent;
    } catch (e) {
      store.close();
      throw e;
    }
  }

  // ---- local API ------------------------------------------------------------------------------

  private async listen(): Promise<void> {
    const remembered = Number(this.store.db.prepare("SELECT value FROM kv WHERE key = 'port'").pluck().get() ?? 0);
    const host = this.opts.host ?? '127.0.0.1';
    const port = this.opts.port ?? remembered;
    try {
      this.url = await this.api.listen({ port, host });
    } catch (e) {
      if (this.opts.port === undefined && (e as { code?: string }).code === 'EADDRINUSE')
        this.url = await this.api.listen({ port: 0, host });
      else throw new VergeError('E_NETWORK', `cannot listen on ${host}:${port}: ${(e as Error).message}`);
    }
    const actual = new URL(this.url).port;
    this.store.db
      .prepare("INSERT INTO kv (key, value) VALUES ('port', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
      .run(actual);
  }

  info(): Record<string, unknown> {
    return {
      device_id: this.identity.device_id,
      name: this.identity.name,
      cloud: this.identity.cloud_url,
      broker: this.brokerUrl,
      connection: this.state,
      outbox_pending: this.store.db.open ? this.store.pendingCount() : 0,
      // of them: taken by the broker, not yet named in a receipt of the cloud (sent again after a timeout)
      outbox_awaiting_receipt: this.pump?.awaitingReceipt ?? 0,
      outbox_resent: this.pump?.resent ?? 0,
      profile: this.profile,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      edge_loop: this.store.db.open ? this.loop.info() : undefined,
    };
  }

  /** The encoder half of learned codec `name@version`, when it is deployed here as `<name>-encoder`. */
  private learnedCodec(ref: string): LearnedCodecRunner | undefined {
    const { encoder, version } = learnedCodecModels(ref);
    const m = this.served.get(encoder);
    const shape = m?.inputs[0]?.shape;
    if (!m || m.version !== version || !shape || shape.slice(1).some((d) => typeof d !== 'number')) return undefined;
    return {
      ref,
      sampleShape: shape.slice(1) as number[],
      encode: async (x) => {
        const lease = this.served.lease(encoder);
        try {
          const out = await lease.run({
            [lease.model.inputs[0]!.name]: { dtype: 'float32', dims: x.dims, data: x.data },
          });
          const z = Object.values(out)[0]!;
          return { dims: z.dims, data: z.data as Float32Array };
        } finally {
          lease.release();
        }
      },
    };
  }

  // ---- last good models -----------------------------------------------------------------------

  /** Re-hash and load an artifact from the store; undefined when it is missing or corrupt. */
  private async loadStored(m: ActiveModel): Promise<LoadedModel | undefined> {
    if (!this.store.hasArtifact(m.sha256)) return undefined;
    const bytes = readFileSync(this.store.artifactPath(m.sha256));
    if (createHash('sha256').update(bytes).digest('hex') !== m.sha256) {
      this.log(`stored artifact ${m.sha256.slice(0, 12)} of ${m.name}@${m.version} is corrupt on disk; dropping it`);
      this.store.dropArtifact(m.sha256);
      return undefined;
    }
    let model: Uint8Array | undefined;
    try {
      // a confidential model is decrypted here, in memory only (the stored file stays ciphertext)
      model = this.artifactKeys.open(m.sha256, bytes);
      return await loadModelBytes(m, model, { threads: this.opts.sessionThreads ?? 1 });
    } catch (e) {
      this.log(`cannot load stored ${m.name}@${m.version}: ${(e as Error).message}`);
      return undefined;
    } finally {
      if (model && model !== bytes) model.fill(0); // onnxruntime holds its own copy now
    }
  }

  private async loadLastGood(): Promise<void> {
    for (const m of this.store.activeModels()) {
      let loaded = await this.loadStored(m);
      if (!loaded) {
        for (const prev of this.store.previousModels(m.name, m.sha256)) {
          loaded = await this.loadStored(prev);
          if (loaded) {
            this.store.activate(prev);
            break;
          }
        }
      }
      if (loaded) {
        this.served.swap(loaded);
        this.log(`serving ${loaded.name}@${loaded.version} (${loaded.variant}) from the data dir`);
      } else {
        this.store.deactivate(m.name);
      }
    }
  }

  // ---- MQTT -----------------------------------------------------------------------------------

  get brokerUrl(): string {
    return this.opts.brokerUrl ?? this.identity.mqtt_url;
  }

  private connect(): void {
    const id = this.identity.device_id;
    this.state = 'connecting';
    const session = new MqttSession({
      ...deviceSessionOptions(this.brokerUrl, id, this.identity.password),
      baseDelayMs: this.opts.reconnectBaseMs,
      maxDelayMs: this.opts.reconnectMaxMs,
      tls: this.channel.mqttTls(),
    });
    this.session = session;
    this.pump = new OutboxPump(
      this.store,
      (topic, payload, qos) => session.publish(topic, payload, qos),
      undefined,
      this.store,
      this.opts.receiptTimeoutMs,
      this.opts.telemetryBatch,
    );
    // once per batch of deleted rows (a COUNT(*) of the outbox per delivered row cost more than the delivery)
    this.pump.on('flushed', () => this.stats.telemetryPending.set(this.store.pendingCount()));
    session.on('connected', () => {
      this.state = 'online';
      this.log(`connected to ${this.brokerUrl}${session.connects > 1 ? ` (reconnect ${session.connects - 1})` : ''}`);
      void session
        .publish(deviceTopic(id, 'status'), encodeMessage('status', { device_id: id, state: 'online' }), 1, true)
        .catch(() => undefined);
      this.heartbeat();
      this.pump!.connected();
      this.emit('connected');
    });
    session.on('disconnected', (reason) => {
      this.state = 'offline';
      this.pump!.disconnected();
      this.log(`disconnected (${reason}); reconnecting with backoff`);
      this.emit('disconnected', reason);
    });
    session.on('refused', (reason) => {
      if (this.state !== 'revoked') this.state = 'refused';
      this.log(`broker refused this device: ${reason}`);
      this.emit('refused', reason);
    });
    session.on('message', (topic, payload) => this.onMessage(topic, payload));
    session.start();
  }

  private onMessage(topic: string, payload: Buffer): void {
    const t = parseDeviceTopic(topic);
    if (!t || t.deviceId !== this.identity.device_id) return;
    try {
      if (t.verb === 'deploy') {
        if (payload.length === 0) return; // retained message cleared
        const msg = decodeMessage('deploy', payload);
        if (this.desired && msg.generation < this.desired.generation) return;
        this.desired = msg;
        this.loop.applyDesired(msg.models);
        void this.converge();
      } else if (t.verb === 'fl') {
        if (payload.length === 0) return; // retained task cleared: the job ended
        this.fl?.onTask(decodeMessage('fl', payload));
      } else if (t.verb === 'command') {
        const cmd = decodeMessage('command', payload);
        if (cmd.command === 'revoked') {
          this.log(
            `revoked by the cloud${cmd.reason ? `: ${cmd.reason}` : ''}; still serving local models, no longer connecting`,
          );
          this.state = 'revoked';
          void this.session?.stop();
          this.emit('revoked');
        } else if (cmd.command === 'receipt') {
          this.pump?.receipt(cmd.telemetry ?? [], cmd.telemetry_batch);
        } else if (cmd.command === 'report') {
          this.heartbeat();
        } else if (cmd.command === 'resync') {
          this.store.setAppliedGeneration(-1);
          for (const m of this.store.activeModels()) {
            if (m.deployment_id)
              this.ack({ deployment_id: m.deployment_id, name: m.name, version: m.version }, 'loaded', m);
          }
          this.heartbeat();
          void this.converge();
        }
      }
    } catch (e) {
      this.log(`ignoring a ${t.verb} message: ${(e as Error).message}`);
    }
  }

  private heartbeat(): void {
    if (!this.session?.connected) return;
    const payload = encodeMessage('heartbeat', {
      device_id: this.identity.device_id,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      profile: this.profile,
      models: this.store.activeModels(),
      queue_depth: this.store.pendingCount(),
      agent_version: AGENT_VERSION,
    });
    void this.session.publish(deviceTopic(this.identity.device_id, 'heartbeat'), payload, 0).catch(() => undefined);
  }

  /** Queue a message for at-least-once delivery (survives restarts and outages). */
  private enqueue<V extends 'telemetry' | 'ack'>(verb: V, msg: MessageInput<V>): void {
    const id = randomUUID();
    // telemetry stays queued until the cloud's receipt names it (outbox-pump.ts)
    const receipt = verb === 'telemetry';
    const payload = encodeMessage(verb, { ...msg, id, ...(receipt ? { receipt } : {}) } as MessageInput<V>);
    const full = this.store.enqueue(id, deviceTopic(this.identity.device_id, verb), payload, 1, receipt);
    if (full.dropped || full.refused) {
      if (full.dropped) this.stats.outboxDropped.inc({ verb: 'telemetry' }, full.dropped);
      if (full.refused) this.stats.outboxDropped.inc({ verb });
      if (Date.now() - this.diskFullLoggedAt > DISK_FULL_LOG_MS) {
        this.diskFullLoggedAt = Date.now();
        this.log(
          `disk full: ${full.dropped} oldest telemetry records dropped${full.refused ? `, this ${verb} not queued` : ''} (verge_agent_outbox_dropped_total)`,
        );
      }
    }
    this.stats.telemetryPending.set(this.store.pendingCount());
    this.pump?.kick();
  }

  private ack(
    dep: { deployment_id: string; name: string; version: string },
    state: AckState,
    extra: { variant?: string; sha256?: string } = {},
    error?: { code: string; message: string },
  ): void {
    const rec: AckRecord = {
      deployment_id: dep.deployment_id,
      model: dep.name,
      version: dep.version,
      variant: extra.variant,
      state,
      error,
    };
    this.emit('ack', rec);
    this.enqueue('ack', {
      device_id: this.identity.device_id,
      deployment_id: dep.deployment_id,
      model: { name: dep.name, version: dep.version },
      variant: extra.variant,
      sha256: extra.sha256,
      state,
      error: error ? { code: error.code, message: error.message.slice(0, 1024) } : undefined,
    });
  }

  private startTimers(): void {
    const hb = setInterval(() => this.heartbeat(), this.opts.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS);
    const tm = setInterval(() => this.flushTelemetry(), this.opts.telemetryIntervalMs ?? TELEMETRY_INTERVAL_MS);
    hb.unref();
    tm.unref();
    this.timers.push(hb, tm);
    this.loop.start();
  }

  /** Turn the inference statistics since the last call into queued telemetry records. */
  flushTelemetry(): number {
    const windows = this.stats.takeWindows();
    const active = new Map(this.store.activeModels().map((m) => [m.name, m]));
    for (const w of windows) {
      const a = active.get(w.model.name);
      this.enqueue('telemetry', {
        device_id: this.identity.device_id,
        window_start: w.window_start,
        window_end: w.window_end,
        model: w.model,
        deployment_id: a && a.version === w.model.version ? a.deployment_id : null,
        inferences: w.inferences,
        errors: w.errors,
        latency_ms: w.latency_ms,
        results: Object.keys(w.results).length ? w.results : undefined,
      });
    }
    return windows.length;
  }

  // ---- deployments ----------------------------------------------------------------------------

  /** Converge on the latest desired state; serialized, latest wins. */
  private converge(): Promise<void> {
    if (this.converging) return this.converging;
    this.converging = (async () => {
      try {
        let applied: DeployMessage | undefined;
        while (this.desired && this.desired !== applied && !this.stopped) {
          applied = this.desired;
          if (applied.generation <= this.store.appliedGeneration() && this.allServed(applied)) continue;
          const complete = await this.applyDesired(applied);
          if (complete) {
            this.store.setAppliedGeneration(applied.generation);
            this.retryAttempt = 0;
          } else if (this.desired === applied) {
            this.scheduleRetry();
          }
        }
      } finally {
        this.converging = undefined;
      }
    })();
    return this.converging;
  }

  private allServed(d: DeployMessage): boolean {
    return d.models.every((m) => this.served.get(m.name)?.version === m.version);
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.stopped) return;
    const delay = Math.max(1000, backoffDelay(this.retryAttempt++, 2000, 60_000));
    this.log(`will retry the deployment in ${(delay / 1000).toFixed(1)} s`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.converge();
    }, delay);
    this.retryTimer.unref();
  }

  /** Returns false when a model failed for a reason worth retrying (network). */
  private async applyDesired(d: DeployMessage): Promise<boolean> {
    let complete = true;
    for (const m of d.models) {
      const outcome = await this.applyModel(m, d.key_set);
      if (outcome === 'retry') complete = false;
    }
    const wanted = new Set(d.models.map((m) => m.name));
    for (const name of this.served.names()) {
      if (!wanted.has(name)) {
        this.served.remove(name);
        this.store.deactivate(name);
        this.log(`stopped serving ${name} (no longer in the desired state)`);
      }
    }
    this.store.collectGarbage();
    return complete;
  }

  private async applyModel(m: DesiredModel, keySetSeq?: number): Promise<'ok' | 'final' | 'retry'> {
    const dep = { deployment_id: m.deployment_id, name: m.name, version: m.version };
    const { chosen, reasons } = chooseVariant(m.variants, this.profile);
    if (!chosen) {
      this.ack(
        dep,
        'failed',
        {},
        {
          code: 'E_UNSUPPORTED',
          message: `no variant of ${m.name}@${m.version} fits this device: ${reasons.join('; ')}`,
        },
      );
      return 'final';
    }
    const current = this.served.get(m.name);
    if (current && current.sha256 === chosen.sha256) {
      // Same bytes under another version or deployment: keep the session, take the new identity, so
      // telemetry, /metrics and collected items name the version this deployment asked for.
      if (current.version !== m.version || current.variant !== chosen.variant) {
        this.served.relabel(m.name, { version: m.version, variant: chosen.variant, sha256: chosen.sha256 });
        this.log(`serving ${m.name}@${m.version} (${chosen.variant}): same bytes as ${current.version}`);
      }
      const active = this.store.activeModels().find((a) => a.name === m.name);
      if (active?.deployment_id !== m.deployment_id) {
        this.store.activate({
          name: m.name,
          version: m.version,
          variant: chosen.variant,
          sha256: chosen.sha256,
          deployment_id: m.deployment_id,
        });
        this.ack(dep, 'loaded', chosen);
      }
      return 'ok';
    }
    this.ack(dep, 'received', chosen);
    const need = variantMemory(chosen);
    this.log(
      `deploying ${m.name}@${m.version}: variant ${chosen.variant} (${chosen.precision}, ${chosen.size} bytes, ${need.mb.toFixed(2)} MB loaded, ${need.measured ? 'measured' : 'estimated'})`,
    );

    // Signature first: it covers the digest, so a wrong one is refused before any byte is fetched.
    let sigError: string | undefined;
    try {
      sigError = await this.keys.check(chosen, keySetSeq);
    } catch (e) {
      const message = (e as Error).message;
      this.log(`cannot verify ${m.name}@${m.version} yet: ${message}`);
      this.ack(dep, 'failed', chosen, { code: 'E_NETWORK', message });
      return 'retry';
    }
    if (sigError) {
      this.stats.artifactsRejected.inc({ reason: 'signature' });
      this.log(`REJECTED ${m.name}@${m.version} (${chosen.variant}): ${sigError}`);
      this.ack(dep, 'rejected', chosen, { code: 'E_SIGNATURE', message: sigError });
      return 'final';
    }

    if (chosen.encryption) {
      const keyFailure = await this.fetchContentKey(dep, chosen);
      if (keyFailure) return keyFailure;
    }
    if (!this.store.hasArtifact(chosen.sha256)) {
      this.ack(dep, 'downloading', chosen);
      try {
        await this.download(chosen);
      } catch (e) {
        const err = isVergeError(e) ? e : new VergeError('E_NETWORK', (e as Error).message);
        if (err.code === 'E_INTEGRITY') {
          this.stats.artifactsRejected.inc({ reason: 'digest' });
          this.log(`REJECTED ${m.name}@${m.version} (${chosen.variant}): ${err.message}`);
          this.ack(dep, 'rejected', chosen, { code: err.code, message: err.message });
          return 'final';
        }
        if (this.stopped) return 'retry';
        this.log(`download of ${m.name}@${m.version} failed: ${err.message}`);
        this.ack(dep, 'failed', chosen, { code: err.code, message: err.message });
        return err.code === 'E_AUTH' || err.code === 'E_NOT_FOUND' ? 'final' : 'retry';
      }
    }
    this.ack(dep, 'verified', chosen);

    const entry: ActiveModel = {
      name: m.name,
      version: m.version,
      variant: chosen.variant,
      sha256: chosen.sha256,
      deployment_id: m.deployment_id,
    };
    const loaded = await this.loadStored(entry).catch(() => undefined);
    if (!loaded) {
      this.stats.artifactsRejected.inc({ reason: 'load' });
      this.ack(dep, 'failed', chosen, {
        code: 'E_MODEL_INVALID',
        message: `${m.name}@${m.version} (${chosen.variant}) verified but onnxruntime cannot load it`,
      });
      return 'final';
    }
    this.store.activate(entry);
    this.served.swap(loaded);
    this.log(`serving ${m.name}@${m.version} (${chosen.variant})`);
    this.ack(dep, 'loaded', chosen);
    this.emit('swapped', loaded);
    return 'ok';
  }

  /** A confidential variant's content key, wrapped to this device; undefined when it is here. */
  private async fetchContentKey(
    dep: { deployment_id: string; name: string; version: string },
    chosen: ArtifactRef,
  ): Promise<'final' | 'retry' | undefined> {
    try {
      await this.artifactKeys.ensure(chosen.sha256);
      return undefined;
    } catch (e) {
      const err = isVergeError(e) ? e : new VergeError('E_NETWORK', (e as Error).message);
      this.log(`no content key for ${dep.name}@${dep.version} (${chosen.variant}): ${err.message}`);
      this.ack(dep, 'failed', chosen, { code: err.code, message: err.message });
      return err.code === 'E_NETWORK' ? 'retry' : 'final';
    }
  }

  private async download(v: ArtifactRef): Promise<void> {
    const url = /^https?:\/\//.test(v.url) ? v.url : joinUrl(this.identity.cloud_url, v.url.replace(/^\//, ''));
    let lastLogged = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await downloadArtifact(
          {
            url,
            sha256: v.sha256,
            bytes: v.size,
            headers: { authorization: deviceAuthHeader(this.identity.device_id, this.identity.password) },
            signal: this.downloadAbort.signal,
            fetch: this.channel.fetch,
            onProgress: (received, total) => {
              if (Date.now() - lastLogged > 2000 && total) {
                lastLogged = Date.now();
                this.log(`downloading ${v.sha256.slice(0, 12)}: ${Math.round((100 * received) / total)}%`);
              }
            },
          },
          this.store.downloadsDir,
        );
        if (res.resumedFrom > 0) this.log(`resumed download of ${v.sha256.slice(0, 12)} at byte ${res.resumedFrom}`);
        this.store.storeArtifact(v.sha256, res.path);
        return;
      } catch (e) {
        const code = isVergeError(e) ? e.code : 'E_NETWORK';
        if (code !== 'E_NETWORK' || attempt + 1 >= DOWNLOAD_ATTEMPTS || this.stopped) throw e;
        await new Promise((r) => setTimeout(r, Math.max(200, backoffDelay(attempt, 500, 8000))));
      }
    }
  }

  /** Flush telemetry and wait until the outbox is empty (or the timeout passes). */
  async drainOutbox(timeoutMs = 10_000): Promise<boolean> {
    this.flushTelemetry();
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.store.pendingCount() === 0) return true;
      this.pump?.kick();
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.store.pendingCount() === 0;
  }

  /** Stop cleanly: telemetry of the current window is queued (delivered on the next start). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.downloadAbort.abort();
    try {
      this.flushTelemetry();
    } catch {
      /* store may be unusable; nothing more to save */
    }
    this.pump?.stop();
    // no further FL work from here (a task queued while the offline status goes out would still run and
    // upload: a round phase from a device that is leaving); awaited once the session is down
    const flStopped = this.fl?.stop();
    if (this.session?.connected) {
      await this.session
        .publish(
          deviceTopic(this.identity.device_id, 'status'),
          encodeMessage('status', { device_id: this.identity.device_id, state: 'offline', reason: 'agent stopped' }),
          1,
          true,
        )
        .catch(() => undefined);
    }
    await this.session?.stop();
    await flStopped;
    await this.loop.stop();
    await this.converging?.catch(() => undefined);
    await this.api.close();
    await this.served.close();
    await this.channel.close();
    this.store.close();
  }
}

/**
 * First start: trade the token for an identity. Over HTTPS the agent sends a public key of a key
 * pair it generated and keeps the client certificate the cloud issues for it (mTLS).
 */
async function enrollAgent(
  opts: EdgeAgentOptions,
  cloudUrl: string,
  token: string,
  profile: DeviceProfile,
  channel: CloudChannel,
): Promise<AgentIdentity> {
  const name = sanitizeName(opts.name ?? hostname());
  const keyPair = cloudUrl.startsWith('https:')
    ? generateKeyPairSync('rsa', {
        modulusLength: CLIENT_KEY_BITS,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      })
    : undefined;
  const encryption = generateDeviceEncryptionKey();
  const res = await enroll(cloudUrl, token, name, profile, {
    fetch: channel.fetch,
    clientPublicKey: keyPair?.publicKey,
    encryptionPublicKey: encryption.publicKey,
  });
  // the broker URL comes from the cloud: a plaintext one to another host is refused like --broker
  if (!opts.brokerUrl) channel.check(res.mqtt_url, 'the broker URL the cloud named at enrollment');
  return {
    device_id: res.device_id,
    name: res.name,
    password: res.credentials.password,
    mqtt_url: res.mqtt_url,
    cloud_url: cloudUrl,
    signing_key: res.signing_key,
    tags: res.tags,
    enrolled_at: Date.now(),
    encryption_key: encryption.privateKeyPem,
    encryption_key_registered: true,
    ...(res.telemetry_receipts ? { telemetry_receipts: true } : {}),
    ...(res.telemetry_batch ? { telemetry_batch: res.telemetry_batch } : {}),
    ...(res.client_certificate && keyPair
      ? { client_certificate: res.client_certificate, client_key: keyPair.privateKey }
      : {}),
  };
}
