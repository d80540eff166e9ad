/**
 * A browser tab as a federated-learning device: it enrolls with a one-time token like an agent,
 * joins the fleet over MQTT on a WebSocket (`/v1/mqtt` of the control plane that served the page,
 * bridged to its broker), sends status and heartbeats so the coordinator counts it online, and hands
 * every `fl` task to edge/'s FlParticipant — the agent's own participant: it verifies the round's
 * model (sha256 and the cloud's ed25519 signature), evaluates and trains it with fl/'s ClientTrainer
 * on onnxruntime-web, compresses and uploads the update signed, over HTTP. This file provides only
 * what differs in a tab (FlPlatform): ed25519 by @noble/curves with the key in sessionStorage,
 * downloads by fetch into memory, rounds done in sessionStorage. The signing keys it trusts are
 * edge/'s AgentKeyTrust (the agent's): enrollment's key, then the cloud's rotations along
 * endorsements by a trusted key, kept in sessionStorage. Raw data never leaves the tab.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import mqtt, { type MqttClient } from 'mqtt';
import type { Dataset } from '../../data/browser.ts';
import {
  AgentKeyTrust,
  FlParticipant,
  deviceAuthHeader,
  enroll,
  type FlOutcome,
  type FlPlatform,
  type FlUploadKey,
} from '../../edge/browser.ts';
import { VergeError } from '../../errors.ts';
import {
  HEARTBEAT_INTERVAL_MS,
  HTTP_PATHS,
  decodeMessage,
  deviceSubscriptions,
  deviceTopic,
  encodeMessage,
  parseDeviceTopic,
  type DeviceProfile,
  type EnrollResponse,
  type KeyTrust,
} from '../../protocol/browser.ts';

/** DER prefix of an ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow. */
const ED25519_SPKI_PREFIX = hexToBytes('302a300506032b6570032100');
/** Largest FL model a tab downloads (the seed CNN is ~0.4 MB; a tab's memory is not a server's). */
export const MAX_TAB_MODEL_BYTES = 64 * 1024 * 1024;

const b64 = (b: Uint8Array): string => btoa(String.fromCharCode(...b));

function spkiPem(publicKey: Uint8Array): string {
  const der = new Uint8Array([...ED25519_SPKI_PREFIX, ...publicKey]);
  const body = b64(der).replace(/(.{64})/g, '$1\n');
  return `-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----\n`;
}

/** The tab's FlPlatform: state in `storage` under the device's id, downloads in memory. */
export function tabFlPlatform(deviceId: string, storage: Storage): FlPlatform {
  const roundsKey = `verge.fl.${deviceId}.rounds`;
  const keyKey = `verge.fl.${deviceId}.key`;
  return {
    loadRounds: () => JSON.parse(storage.getItem(roundsKey) ?? '{}') as Record<string, number>,
    saveRounds: (done) => storage.setItem(roundsKey, JSON.stringify(done)),
    uploadKey(): FlUploadKey {
      let secret = storage.getItem(keyKey);
      if (!secret) {
        secret = bytesToHex(ed25519.utils.randomSecretKey());
        storage.setItem(keyKey, secret);
      }
      const sk = hexToBytes(secret);
      return { publicKeyPem: spkiPem(ed25519.getPublicKey(sk)), sign: (payload) => b64(ed25519.sign(payload, sk)) };
    },
    async download(req) {
      if (req.bytes > MAX_TAB_MODEL_BYTES)
        throw new VergeError('E_TOO_LARGE', `model of ${req.bytes} bytes exceeds this tab's ${MAX_TAB_MODEL_BYTES}`);
      let res: Response;
      try {
        res = await fetch(req.url, { headers: req.headers, signal: req.signal });
      } catch (e) {
        throw new VergeError('E_NETWORK', `cannot download ${req.url}: ${(e as Error).message}`);
      }
      if (!res.ok) throw new VergeError('E_NETWORK', `download of ${req.sha256.slice(0, 12)}: HTTP ${res.status}`);
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (bytes.length !== req.bytes || bytesToHex(sha256(bytes)) !== req.sha256)
        throw new VergeError('E_INTEGRITY', `artifact ${req.sha256.slice(0, 12)} does not match its sha256/size`);
      return bytes;
    },
  };
}

/** What a tab says about itself in heartbeats. */
export function tabProfile(): DeviceProfile {
  const nav = globalThis.navigator as Navigator & { deviceMemory?: number };
  return {
    class: 'browser',
    arch: 'wasm32',
    platform: 'browser',
    cpu: { model: nav.userAgent.slice(0, 128), cores: Math.max(1, nav.hardwareConcurrency || 1) },
    memory_mb: Math.max(256, Math.round((nav.deviceMemory ?? 1) * 1024)),
    precisions: ['fp32'],
    accelerators: [],
  };
}

export type FlDeviceState = 'enrolling' | 'connecting' | 'online' | 'offline' | 'revoked' | 'stopped' | 'error';

export interface FlDeviceOptions {
  /** The control plane's base URL (the page's origin when served by `verge cloud`). */
  cloudUrl: string;
  token: string;
  name: string;
  /** The tab's local data: its train split is trained on, its test split is the hold-out. */
  data: () => Promise<Dataset>;
  storage: Storage;
  threads?: number;
  onState?: (state: FlDeviceState, detail?: string) => void;
  onOutcome?: (o: FlOutcome) => void;
  log?: (line: string) => void;
}

/** A tab enrolled as a device and taking part in the fleet's FL jobs until stop(). */
export class BrowserFlDevice {
  private client?: MqttClient;
  private participant?: FlParticipant;
  private heartbeatTimer?: ReturnType<typeof setInterval>;
  private readonly startedAt = Date.now();
  private readonly profile = tabProfile();
  identity?: EnrollResponse;

  constructor(private readonly opts: FlDeviceOptions) {}

  private state(s: FlDeviceState, detail?: string): void {
    this.opts.onState?.(s, detail);
  }

  async start(): Promise<void> {
    this.state('enrolling');
    const identity = await enroll(this.opts.cloudUrl, this.opts.token, this.opts.name, this.profile);
    this.identity = identity;
    const id = identity.device_id;
    const cloud = { device_id: id, password: identity.credentials.password, cloud_url: this.opts.cloudUrl };
    const trustKey = `verge.fl.${id}.key-trust`;
    const keys = new AgentKeyTrust({
      cloudUrl: () => this.opts.cloudUrl,
      authorization: () => deviceAuthHeader(id, identity.credentials.password),
      enrolledKey: identity.signing_key,
      load: () => {
        const saved = this.opts.storage.getItem(trustKey);
        return saved ? (JSON.parse(saved) as KeyTrust) : undefined;
      },
      save: (t) => this.opts.storage.setItem(trustKey, JSON.stringify(t)),
      log: (line) => this.opts.log?.(line),
    });
    this.participant = new FlParticipant({
      identity: cloud,
      platform: tabFlPlatform(id, this.opts.storage),
      localData: this.opts.data,
      checkSignature: (ref) => keys.check(ref),
      log: (line) => this.opts.log?.(line),
      ...(this.opts.threads ? { threads: this.opts.threads } : {}),
    });
    this.participant.onOutcome = (o) => this.opts.onOutcome?.(o);
    this.state('connecting');
    const ws = new URL(HTTP_PATHS.mqtt.replace(/^\//, ''), this.opts.cloudUrl.replace(/\/?$/, '/'));
    ws.protocol = ws.protocol === 'https:' ? 'wss:' : 'ws:';
    const client = mqtt.connect(ws.href, {
      clientId: id,
      username: identity.credentials.username,
      password: identity.credentials.password,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      keepalive: 30,
      will: {
        topic: deviceTopic(id, 'status'),
        payload: encodeMessage('status', { device_id: id, state: 'offline', reason: 'tab closed' }),
        qos: 1,
        retain: true,
      },
    });
    this.client = client;
    client.on('connect', () => {
      client.subscribe(deviceSubscriptions(id), { qos: 1 }, (err) => {
        if (err) return this.state('error', `subscription refused: ${err.message}`);
        client.publish(
          deviceTopic(id, 'status'),
          encodeMessage('status', { device_id: id, state: 'online' }),
          { qos: 1, retain: true },
          () => this.heartbeat(),
        );
        this.state('online');
      });
    });
    client.on('close', () => this.state('offline', 'connection to the control plane lost; retrying'));
    client.on('error', (e) => this.opts.log?.(`MQTT: ${e.message}`));
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    this.heartbeatTimer = setInterval(() => this.heartbeat(), HEARTBEAT_INTERVAL_MS);
  }

  private heartbeat(): void {
    if (!this.client?.connected || !this.identity) return;
    const payload = encodeMessage('heartbeat', {
      device_id: this.identity.device_id,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      profile: this.profile,
      models: [],
      agent_version: 'browser-tab',
    });
    this.client.publish(deviceTopic(this.identity.device_id, 'heartbeat'), payload, { qos: 0 });
  }

  private onMessage(topic: string, payload: Uint8Array): void {
    const t = parseDeviceTopic(topic);
    if (!t || t.deviceId !== this.identity?.device_id || payload.length === 0) return;
    try {
      if (t.verb === 'fl')
        this.participant?.onTask(decodeMessage('fl', payload as Parameters<typeof decodeMessage>[1]));
      else if (
        t.verb === 'command' &&
        decodeMessage('command', payload as Parameters<typeof decodeMessage>[1]).command === 'revoked'
      ) {
        this.state('revoked', 'this tab was revoked by the control plane');
        void this.stop();
      }
    } catch (e) {
      this.opts.log?.(`ignoring a ${t.verb} message: ${(e as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    await this.participant?.stop();
    const client = this.client;
    this.client = undefined;
    if (client && this.identity) {
      const id = this.identity.device_id;
      await new Promise<void>((resolve) =>
        client.publish(
          deviceTopic(id, 'status'),
          encodeMessage('status', { device_id: id, state: 'offline', reason: 'left' }),
          { qos: 1, retain: true },
          () => resolve(),
        ),
      ).catch(() => undefined);
      await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    }
    this.state('stopped');
  }
}
