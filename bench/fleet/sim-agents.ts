/**
 * Worker process of bench/fleet.ts: many simulated agents in one process, each a real MQTT
 * connection with its own device credentials, speaking protocol v1 (status, heartbeat, deploy →
 * download + sha256 + ed25519 verification → acks, telemetry at QoS 1). No onnxruntime: a
 * simulated agent does the protocol work of a device, not the inference.
 *
 * Messages from the parent: init {brokerUrl, cloudUrl, agents:[{id, password}]}, telemetry
 * {perAgent, only?: ids}, go, stop. Replies: connected, ready, sent, stopped.
 */
import { createHash, randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import {
  HEARTBEAT_INTERVAL_MS,
  decodeMessage,
  deviceTopic,
  emptyHistogram,
  encodeMessage,
  observeLatency,
  selectVariant,
  verifyArtifactSignature,
} from '../../src/protocol/index.ts';
import { RECEIPT_TIMEOUT_MS } from '../../src/edge/outbox-pump.ts';
import { SIM_PROFILE } from './sim-profile.ts';

interface Creds {
  id: string;
  password: string;
}

type FromParent =
  | { cmd: 'init'; brokerUrl: string; cloudUrl: string; publicKeyPem: string; agents: Creds[] }
  | { cmd: 'telemetry'; perAgent: number; only: string[] }
  | { cmd: 'go' }
  | { cmd: 'stop' };

/** Connections being opened at once per worker: aedes and Mosquitto both accept bursts of this size. */
const CONNECT_CONCURRENCY = 250;
/** Give up waiting for one connection after this long (it keeps retrying in the background). */
const CONNECT_TIMEOUT_MS = 60_000;
/** Artifact downloads at once per worker: bounds memory (each holds one artifact). */
const DOWNLOAD_CONCURRENCY = 64;

const send = (m: unknown) => process.send!(m);
const clients = new Map<string, MqttClient>();
let cloudUrl = '';
let publicKeyPem = '';
let prepared: { client: MqttClient; topic: string; payloads: Buffer[]; ids: string[] }[] = [];
let downloadsActive = 0;
const downloadQueue: (() => void)[] = [];

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

function ack(
  client: MqttClient,
  c: Creds,
  deploymentId: string,
  model: { name: string; version: string },
  state: 'received' | 'verified' | 'loaded' | 'rejected' | 'failed',
  extra: { variant?: string; sha256?: string; error?: { code: string; message: string } } = {},
): void {
  client.publish(
    deviceTopic(c.id, 'ack'),
    encodeMessage('ack', { device_id: c.id, deployment_id: deploymentId, model, state, ...extra }),
    { qos: 1 },
  );
}

async function onDeploy(client: MqttClient, c: Creds, payload: Buffer): Promise<void> {
  if (payload.length === 0) return;
  const msg = decodeMessage('deploy', payload);
  for (const m of msg.models) {
    const model = { name: m.name, version: m.version };
    const v = selectVariant(m.variants, SIM_PROFILE);
    if (!v) {
      ack(client, c, m.deployment_id, model, 'failed', { error: { code: 'E_UNSUPPORTED', message: 'no variant' } });
      continue;
    }
    ack(client, c, m.deployment_id, model, 'received', { variant: v.variant, sha256: v.sha256 });
    try {
      const bytes = await withDownloadSlot(async () => {
        const res = await fetch(new URL(v.url, cloudUrl), {
          headers: { authorization: `Basic ${Buffer.from(`${c.id}:${c.password}`).toString('base64')}` },
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        return Buffer.from(await res.arrayBuffer());
      });
      const digest = createHash('sha256').update(bytes).digest('hex');
      if (digest !== v.sha256) {
        ack(client, c, m.deployment_id, model, 'rejected', {
          variant: v.variant,
          error: { code: 'E_INTEGRITY', message: 'sha256 mismatch' },
        });
        continue;
      }
      if (!verifyArtifactSignature(v.sha256, v.signature, publicKeyPem)) {
        ack(client, c, m.deployment_id, model, 'rejected', {
          variant: v.variant,
          error: { code: 'E_SIGNATURE', message: 'bad signature' },
        });
        continue;
      }
      ack(client, c, m.deployment_id, model, 'verified', { variant: v.variant, sha256: v.sha256 });
      ack(client, c, m.deployment_id, model, 'loaded', { variant: v.variant, sha256: v.sha256 });
    } catch (e) {
      ack(client, c, m.deployment_id, model, 'failed', {
        variant: v.variant,
        error: { code: 'E_NETWORK', message: (e as Error).message },
      });
    }
  }
}

/**
 * Telemetry kept until the cloud's receipt names it, as the agent's outbox does (outbox-pump.ts):
 * id → what to send again when no receipt came within RECEIPT_TIMEOUT_MS.
 */
const unreceipted = new Map<string, { client: MqttClient; topic: string; payload: Buffer; due: number }>();
const receiptStats = { receipts: 0, resent: 0 };
let receiptWaiter: (() => void) | null = null;

function onCommand(payload: Buffer): void {
  const cmd = decodeMessage('command', payload);
  if (cmd.command !== 'receipt') return;
  receiptStats.receipts++;
  for (const id of cmd.telemetry ?? []) unreceipted.delete(id);
  if (unreceipted.size === 0) receiptWaiter?.();
}

/** Resolve once every record sent is receipted, sending again what was not in time. */
function allReceipted(): Promise<void> {
  if (unreceipted.size === 0) return Promise.resolve();
  const timer = setInterval(() => {
    const now = Date.now();
    for (const m of unreceipted.values()) {
      if (m.due > now) continue;
      m.due = now + RECEIPT_TIMEOUT_MS;
      receiptStats.resent++;
      m.client.publish(m.topic, m.payload, { qos: 1 });
    }
  }, 1000);
  return new Promise<void>((resolve) => {
    receiptWaiter = () => {
      clearInterval(timer);
      receiptWaiter = null;
      resolve();
    };
  });
}

function connectOne(url: string, c: Creds): Promise<boolean> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, {
      clientId: c.id,
      username: c.id,
      password: c.password,
      clean: true,
      protocolVersion: 4,
      keepalive: 120,
      reconnectPeriod: 2000,
      connectTimeout: 60_000,
    });
    let settled = false;
    // A connection that is neither accepted nor refused within the timeout counts as failed (it
    // keeps retrying in the background) so one stuck client cannot stall the whole fleet.
    const timer = setTimeout(() => {
      if (!settled) {
        settled = true;
        resolve(false);
      }
    }, CONNECT_TIMEOUT_MS);
    client.once('connect', () => {
      clearTimeout(timer);
      // deploy (desired state) and command (receipts of stored telemetry, among others), as an agent
      client.subscribe([deviceTopic(c.id, 'deploy'), deviceTopic(c.id, 'command')], { qos: 1 }, () => {
        client.publish(deviceTopic(c.id, 'status'), encodeMessage('status', { device_id: c.id, state: 'online' }), {
          qos: 1,
          retain: true,
        });
        // Heartbeat like a real agent (every HEARTBEAT_INTERVAL_MS, phase spread at random) so the
        // control plane keeps counting the device online.
        const beat = () =>
          client.publish(
            deviceTopic(c.id, 'heartbeat'),
            encodeMessage('heartbeat', { device_id: c.id, uptime_s: 0, profile: SIM_PROFILE, models: [] }),
            { qos: 0 },
          );
        setTimeout(
          () => setInterval(beat, HEARTBEAT_INTERVAL_MS).unref(),
          Math.random() * HEARTBEAT_INTERVAL_MS,
        ).unref();
        client.publish(
          deviceTopic(c.id, 'heartbeat'),
          encodeMessage('heartbeat', { device_id: c.id, uptime_s: 0, profile: SIM_PROFILE, models: [] }),
          { qos: 0 },
        );
        if (!settled) {
          settled = true;
          resolve(true);
        }
      });
    });
    client.on('error', () => {
      if (!settled) {
        settled = true;
        resolve(false);
      }
    });
    client.on('message', (topic, payload) => {
      if (topic.endsWith('/deploy')) onDeploy(client, c, payload).catch(() => undefined);
      else if (topic.endsWith('/command')) onCommand(payload);
    });
    clients.set(c.id, client);
  });
}

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
        if (await connectOne(m.brokerUrl, m.agents[next++]!)) ok++;
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
      const client = clients.get(id);
      if (!client) continue;
      const payloads: Buffer[] = [];
      const ids: string[] = [];
      for (let k = 0; k < m.perAgent; k++) {
        ids.push(randomUUID());
        payloads.push(
          encodeMessage('telemetry', {
            id: ids[k],
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
      prepared.push({ client, topic: deviceTopic(id, 'telemetry'), payloads, ids });
    }
    send({ ev: 'ready', messages: prepared.reduce((a, p) => a + p.payloads.length, 0) });
  } else if (m.cmd === 'go') {
    const t0 = performance.now();
    let acked = 0;
    let errors = 0;
    await Promise.all(
      prepared.map(
        (p) =>
          new Promise<void>((resolve) => {
            let left = p.payloads.length;
            if (left === 0) return resolve();
            for (const [k, payload] of p.payloads.entries()) {
              const id = p.ids[k]!;
              unreceipted.set(id, { client: p.client, topic: p.topic, payload, due: Infinity });
              p.client.publish(p.topic, payload, { qos: 1 }, (err) => {
                const m = unreceipted.get(id);
                if (m) m.due = Date.now() + RECEIPT_TIMEOUT_MS;
                if (err) errors++;
                else acked++;
                if (--left === 0) resolve();
              });
            }
          }),
      ),
    );
    send({ ev: 'sent', acked, errors, seconds: (performance.now() - t0) / 1000 });
    await allReceipted();
    send({ ev: 'receipted', ...receiptStats, seconds: (performance.now() - t0) / 1000 });
  } else if (m.cmd === 'stop') {
    await Promise.all([...clients.values()].map((c) => c.endAsync(true).catch(() => undefined)));
    send({ ev: 'stopped' });
    process.exit(0);
  }
});
// the parent gone (it crashed or was killed): stop, rather than keep thousands of clients reconnecting
process.on('disconnect', () => process.exit(0));
send({ ev: 'up' });
