/**
 * Worker process of bench/fleet.ts: many simulated agents in one process, each a real MQTT
 * connection with its own device credentials, speaking protocol v1 (status, heartbeat, deploy →
 * download + sha256 + ed25519 verification → acks, telemetry at QoS 1). No onnxruntime: a
 * simulated agent does the protocol work of a device, not the inference.
 *
 * The session and the outbox are the agent's own code: MqttSession (src/edge/mqtt-session.ts:
 * keepalive, will, exponential reconnect backoff with jitter) and OutboxPump
 * (src/edge/outbox-pump.ts: acks and telemetry at QoS 1 with a window in flight, telemetry kept
 * until the cloud's receipt names it and sent again by the agent's rule) over an in-memory outbox
 * where the agent has SQLite — so the bench cannot drift from what agents do.
 *
 * Messages from the parent: init {brokerUrl, cloudUrl, agents:[{id, password}], batch, cloudBatch}, telemetry
 * {perAgent, only?: ids}, go {cpuProfile?: file}, stop. Replies: connected, ready, sent, receipted, stopped.
 * With `cpuProfile`, the telemetry phase (first publish to last receipt) is sampled into that file.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  HEARTBEAT_INTERVAL_MS,
  decodeMessage,
  deviceTopic,
  emptyHistogram,
  encodeMessage,
  observeLatency,
  selectVariant,
  verifyArtifactSignature,
  type DeviceVerb,
  type MessageInput,
} from '../../src/protocol/index.ts';
import { deviceAuthHeader } from '../../src/edge/enrollment.ts';
import { MqttSession, deviceSessionOptions } from '../../src/edge/mqtt-session.ts';
import { OutboxPump } from '../../src/edge/outbox-pump.ts';
import { startCpuProfile, writeCpuProfile } from './cpu-profile.ts';
import { MemoryOutbox } from '../../test/edge/memory-outbox.ts';
import { SIM_PROFILE } from './sim-profile.ts';

interface Creds {
  id: string;
  password: string;
}

type FromParent =
  | {
      cmd: 'init';
      brokerUrl: string;
      cloudUrl: string;
      publicKeyPem: string;
      agents: Creds[];
      /** The agents' own bound on telemetry records per MQTT message (1: no batches). */
      batch: number;
      /** What enrollment said the cloud accepts (EnrollResponse.telemetry_batch; 1: none). */
      cloudBatch: number;
    }
  | { cmd: 'telemetry'; perAgent: number; only: string[] }
  | { cmd: 'go'; cpuProfile?: string }
  | { cmd: 'stop' };

/** Connections being opened at once per worker: aedes and Mosquitto both accept bursts of this size. */
const CONNECT_CONCURRENCY = 250;
/** Count a device as failed after this long without a session (it keeps retrying in the background, with the agent's backoff). */
const CONNECT_TIMEOUT_MS = 60_000;
/** Artifact downloads at once per worker: bounds memory (each holds one artifact). */
const DOWNLOAD_CONCURRENCY = 64;

const send = (m: unknown) => process.send!(m);
let cloudUrl = '';
let publicKeyPem = '';
let downloadsActive = 0;
const downloadQueue: (() => void)[] = [];
const receiptStats = { receipts: 0 };

async function withDownloadSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (downloadsActive >= DOWNLOAD_CONCURRENCY) await new Promise<void>((r) => downloadQueue.push(r));
  downloadsActive++;
  try {
    return await fn();
  } finally {
    downloadsActive--;
    downloadQueue.shift()?.();
  }
}

const ID_KEY = Buffer.from('"id":"');
/** A payload's message id, read from its JSON without parsing the rest (encodeMessage writes `id` near the start). */
function messageId(payload: Buffer): string {
  const start = payload.indexOf(ID_KEY) + ID_KEY.length;
  return payload.toString('latin1', start, payload.indexOf(0x22, start));
}

/** One simulated device: the agent's session and outbox, and what it does with deploy and command messages. */
class SimAgent {
  readonly session: MqttSession;
  readonly outbox = new MemoryOutbox();
  readonly pump: OutboxPump;
  /** Rows whose first PUBACK came (a resent row is not counted again). */
  private readonly acked = new WeakSet<Buffer>();
  onFirstAck: () => void = () => undefined;
  /** Deployments this device already loaded: a reconnect delivers the retained desired state again. */
  private readonly loaded = new Set<string>();
  private heartbeatTimer?: NodeJS.Timeout;

  constructor(
    brokerUrl: string,
    readonly creds: Creds,
    batch: number,
    cloudBatch: number,
  ) {
    const id = creds.id;
    this.session = new MqttSession(deviceSessionOptions(brokerUrl, id, creds.password));
    this.pump = new OutboxPump(
      this.outbox,
      (topic, payload, qos) => this.session.publish(topic, payload, qos),
      undefined,
      // enrollment said the cloud sends receipts (EnrollResponse.telemetry_receipts) and how many
      // records a telemetry message may carry (telemetry_batch); receipts say it again
      {
        cloudSendsReceipts: () => true,
        markCloudSendsReceipts: () => undefined,
        cloudTelemetryBatch: () => cloudBatch,
        markCloudTelemetryBatch: () => undefined,
      },
      undefined,
      batch,
    );
    this.pump.on('published', (rows) => {
      for (const r of rows)
        if (!this.acked.has(r.payload)) {
          this.acked.add(r.payload);
          this.onFirstAck();
        }
    });
    this.session.on('connected', () => {
      void this.session
        .publish(deviceTopic(id, 'status'), encodeMessage('status', { device_id: id, state: 'online' }), 1, true)
        .catch(() => undefined);
      this.heartbeat();
      this.pump.connected();
    });
    this.session.on('disconnected', () => this.pump.disconnected());
    this.session.on('message', (topic, payload) => {
      if (topic.endsWith('/deploy')) this.onDeploy(payload).catch(() => undefined);
      else if (topic.endsWith('/command')) this.onCommand(payload);
    });
  }

  start(): void {
    this.session.start();
    // heartbeat like a real agent (every HEARTBEAT_INTERVAL_MS, phase spread at random) so the
    // control plane keeps counting the device online
    setTimeout(() => {
      this.heartbeatTimer = setInterval(() => this.heartbeat(), HEARTBEAT_INTERVAL_MS);
      this.heartbeatTimer.unref();
    }, Math.random() * HEARTBEAT_INTERVAL_MS).unref();
  }

  private heartbeat(): void {
    if (!this.session.connected) return;
    const id = this.creds.id;
    this.session
      .publish(
        deviceTopic(id, 'heartbeat'),
        encodeMessage('heartbeat', { device_id: id, uptime_s: 0, profile: SIM_PROFILE, models: [] }),
        0,
      )
      .catch(() => undefined);
  }

  /** Queue a message in the outbox, as the agent does for acks and telemetry (QoS 1, sent by the pump). */
  private queue<V extends DeviceVerb>(verb: V, msg: MessageInput<V>): void {
    const payload = encodeMessage(verb, msg);
    this.outbox.enqueue(messageId(payload), deviceTopic(this.creds.id, verb), payload, false);
    this.pump.kick();
  }

  private onCommand(payload: Buffer): void {
    const cmd = decodeMessage('command', payload);
    if (cmd.command !== 'receipt') return;
    receiptStats.receipts++;
    this.pump.receipt(cmd.telemetry ?? [], cmd.telemetry_batch);
  }

  private ack(
    deploymentId: string,
    model: { name: string; version: string },
    state: 'received' | 'verified' | 'loaded' | 'rejected' | 'failed',
    extra: { variant?: string; sha256?: string; error?: { code: string; message: string } } = {},
  ): void {
    this.queue('ack', { device_id: this.creds.id, deployment_id: deploymentId, model, state, ...extra });
  }

  private async onDeploy(payload: Buffer): Promise<void> {
    if (payload.length === 0) return;
    const c = this.creds;
    const msg = decodeMessage('deploy', payload);
    for (const m of msg.models) {
      if (this.loaded.has(m.deployment_id)) continue;
      const model = { name: m.name, version: m.version };
      const v = selectVariant(m.variants, SIM_PROFILE);
      if (!v) {
        this.ack(m.deployment_id, model, 'failed', { error: { code: 'E_UNSUPPORTED', message: 'no variant' } });
        continue;
      }
      this.ack(m.deployment_id, model, 'received', { variant: v.variant, sha256: v.sha256 });
      try {
        const bytes = await withDownloadSlot(async () => {
          const res = await fetch(new URL(v.url, cloudUrl), {
            headers: { authorization: deviceAuthHeader(c.id, c.password) },
          });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          return Buffer.from(await res.arrayBuffer());
        });
        const digest = createHash('sha256').update(bytes).digest('hex');
        if (digest !== v.sha256) {
          this.ack(m.deployment_id, model, 'rejected', {
            variant: v.variant,
            error: { code: 'E_INTEGRITY', message: 'sha256 mismatch' },
          });
          continue;
        }
        if (!verifyArtifactSignature(v.sha256, v.signature, publicKeyPem)) {
          this.ack(m.deployment_id, model, 'rejected', {
            variant: v.variant,
            error: { code: 'E_SIGNATURE', message: 'bad signature' },
          });
          continue;
        }
        this.loaded.add(m.deployment_id);
        this.ack(m.deployment_id, model, 'verified', { variant: v.variant, sha256: v.sha256 });
        this.ack(m.deployment_id, model, 'loaded', { variant: v.variant, sha256: v.sha256 });
      } catch (e) {
        this.ack(m.deployment_id, model, 'failed', {
          variant: v.variant,
          error: { code: 'E_NETWORK', message: (e as Error).message },
        });
      }
    }
  }

  async stop(): Promise<void> {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.pump.stop();
    await this.session.stop();
  }
}

const agents = new Map<string, SimAgent>();

/** Start one agent; true once its session is up (subscribed), false after CONNECT_TIMEOUT_MS or a refusal. */
function connectOne(url: string, c: Creds, batch: number, cloudBatch: number): Promise<boolean> {
  const agent = new SimAgent(url, c, batch, cloudBatch);
  agents.set(c.id, agent);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), CONNECT_TIMEOUT_MS);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      resolve(ok);
    };
    agent.session.once('connected', () => done(true));
    agent.session.once('refused', () => done(false));
    agent.start();
  });
}

let prepared: { agent: SimAgent; topic: string; payloads: Buffer[] }[] = [];

process.on('message', async (m: FromParent) => {
  if (m.cmd === 'init') {
    cloudUrl = m.cloudUrl;
    publicKeyPem = m.publicKeyPem;
    let ok = 0;
    let failed = 0;
    const t0 = performance.now();
    // a sliding window, as devices connect independently: a new connection starts as soon as one
    // settles (in lock-step batches, each batch waited for its slowest connection)
    let next = 0;
    const lane = async () => {
      while (next < m.agents.length) {
        if (await connectOne(m.brokerUrl, m.agents[next++]!, m.batch, m.cloudBatch)) ok++;
        else failed++;
        if ((ok + failed) % 2000 === 0) send({ ev: 'progress', ok, failed });
      }
    };
    await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, lane));
    send({ ev: 'connected', ok, failed, seconds: (performance.now() - t0) / 1000 });
  } else if (m.cmd === 'telemetry') {
    // Encode (and validate) every message before the clock starts: the bench measures transport
    // and ingestion, not how fast this process builds JSON.
    prepared = [];
    const now = Date.now();
    const hist = emptyHistogram();
    observeLatency(hist, 1.2);
    for (const id of m.only) {
      const agent = agents.get(id);
      if (!agent) continue;
      const payloads: Buffer[] = [];
      for (let k = 0; k < m.perAgent; k++) {
        payloads.push(
          encodeMessage('telemetry', {
            id: randomUUID(),
            device_id: id,
            window_start: now,
            window_end: now + 1000,
            model: { name: 'seed', version: '1.0.0', variant: 'fp32' },
            inferences: 1,
            errors: 0,
            latency_ms: hist,
            receipt: true,
          }),
        );
      }
      prepared.push({ agent, topic: deviceTopic(id, 'telemetry'), payloads });
    }
    send({ ev: 'ready', messages: prepared.reduce((a, p) => a + p.payloads.length, 0) });
  } else if (m.cmd === 'go') {
    const profiler = m.cpuProfile ? await startCpuProfile() : undefined;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const total = prepared.reduce((n, p) => n + p.payloads.length, 0);
    let acked = 0;
    let drained = 0;
    let allAcked = () => {};
    let allDrained = () => {};
    const sent = new Promise<void>((resolve) => (allAcked = resolve));
    // every record stored and named in a receipt: each outbox is empty
    const receipted = new Promise<void>((resolve) => (allDrained = resolve));
    if (total === 0) {
      allAcked();
      allDrained();
    }
    for (const { agent, topic, payloads } of prepared) {
      agent.pump.messageSizes.clear(); // the rollout's acks: counted are the telemetry phase's messages
      agent.onFirstAck = () => {
        if (++acked === total) allAcked();
      };
      agent.pump.once('drained', () => {
        if (++drained === prepared.length) allDrained();
      });
      for (const payload of payloads) agent.outbox.enqueue(messageId(payload), topic, payload, true);
      agent.pump.kick();
    }
    await sent;
    send({ ev: 'sent', acked, errors: 0, seconds: (performance.now() - t0) / 1000 });
    await receipted;
    const resent = prepared.reduce((n, p) => n + p.agent.pump.resent, 0);
    // telemetry MQTT messages by the records each carried (resends included)
    const messageSizes: Record<number, number> = {};
    for (const p of prepared)
      for (const [size, n] of p.agent.pump.messageSizes) messageSizes[size] = (messageSizes[size] ?? 0) + n;
    const cpu = process.cpuUsage(cpu0);
    if (profiler) await writeCpuProfile(profiler, m.cpuProfile!);
    send({
      ev: 'receipted',
      ...receiptStats,
      resent,
      messageSizes,
      seconds: (performance.now() - t0) / 1000,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      systemCpuSeconds: cpu.system / 1e6,
    });
  } else if (m.cmd === 'stop') {
    await Promise.all([...agents.values()].map((a) => a.stop().catch(() => undefined)));
    send({ ev: 'stopped' });
    process.exit(0);
  }
});
// the parent gone (it crashed or was killed): stop, rather than keep thousands of clients reconnecting
process.on('disconnect', () => process.exit(0));
send({ ev: 'up' });
