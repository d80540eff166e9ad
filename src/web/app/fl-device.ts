/**
 * A browser tab as a federated-learning device: it enrolls with a one-time token like an agent,
 * joins the fleet over MQTT on a WebSocket (`/v1/mqtt` of the control plane that served the page,
 * bridged to its broker), sends status and heartbeats so the coordinator counts it online, and hands
 * every `fl` task to edge/'s FlParticipant — the agent's own participant: it verifies the round's
 * model (sha256 and the cloud's ed25519 signature), evaluates and trains it with fl/'s ClientTrainer
 * on onnxruntime-web, compresses and uploads the update signed, over HTTP. This file provides only
 * what differs in a tab (FlPlatform): the device kept in IndexedDB by device-store.ts (password
 * sealed, upload key a non-extractable WebCrypto Ed25519 key), so a reloaded or reopened tab resumes
 * as the same device without a new token; downloads by fetch into memory. The signing keys it trusts
 * are edge/'s AgentKeyTrust (the agent's): enrollment's key, then the cloud's rotations along
 * endorsements by a trusted key, kept with the device. Raw data never leaves the tab.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import mqtt, { type MqttClient } from 'mqtt';
import type { Dataset } from '../../data/browser.ts';
import {
  AgentKeyTrust,
  FlParticipant,
  deviceAuthHeader,
  enroll,
  type FlOutcome,
  type FlPlatform,
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
} from '../../protocol/browser.ts';
import type { GradientReplicas } from '../../train/browser.ts';
import type { DeviceStore, StoredDevice } from './device-store.ts';

/** Largest FL model a tab downloads (the seed CNN is ~0.4 MB; a tab's memory is not a server's). */
export const MAX_TAB_MODEL_BYTES = 64 * 1024 * 1024;

/**
 * The tab's FlPlatform over its stored device: rounds done kept in memory and written through to
 * the store (FlPlatform's calls are synchronous), the stored upload key, downloads in memory.
 */
export function tabFlPlatform(device: StoredDevice, persist: (rounds: Record<string, number>) => void): FlPlatform {
  let rounds = { ...device.rounds };
  return {
    loadRounds: () => ({ ...rounds }),
    saveRounds: (done) => {
      rounds = { ...done };
      persist(rounds);
    },
    uploadKey: () => device.uploadKey,
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
  /** Where the enrolled device is kept; a device kept for `cloudUrl` is resumed instead of enrolling. */
  store: DeviceStore;
  /** One-time enrollment token: enrolls a new device (kept, and resumed by later pages); without one
   * the newest device kept for `cloudUrl` is resumed. */
  token?: string;
  name?: string;
  /** The tab's local data: its train split is trained on, its test split is the hold-out. */
  data: () => Promise<Dataset>;
  threads?: number;
  /** Data-parallel replicas of the rounds' training (replicas.ts's workerReplicas); default one session. */
  replicas?: GradientReplicas;
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
  /** True when start() resumed a device kept from an earlier page of this browser. */
  resumed = false;
  private releaseLock?: () => void;

  constructor(private readonly opts: FlDeviceOptions) {}

  private state(s: FlDeviceState, detail?: string): void {
    this.opts.onState?.(s, detail);
  }

  /** A new device enrolled with the token (and kept), or the device kept for this control plane. */
  private async device(): Promise<StoredDevice> {
    const { store, cloudUrl, token, name } = this.opts;
    if (token) {
      this.state('enrolling');
      return store.save(cloudUrl, await enroll(cloudUrl, token, name ?? 'browser-tab', this.profile));
    }
    const kept = await store.load(cloudUrl);
    if (!kept) throw new VergeError('E_BAD_ARGUMENT', 'this browser keeps no device: enter an enrollment token');
    this.resumed = true;
    return kept;
  }

  /**
   * Only one page runs a device at a time (two would take the same MQTT client id from each other):
   * a Web Lock per device id, held until the page closes or the device stops.
   */
  private async claim(deviceId: string): Promise<void> {
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    if (!locks) return;
    const held = await new Promise<boolean>((resolve) => {
      void locks.request(`verge-device-${deviceId}`, { ifAvailable: true }, (lock) => {
        resolve(lock !== null);
        return lock ? new Promise<void>((release) => (this.releaseLock = release)) : undefined;
      });
    });
    if (!held) throw new VergeError('E_CONFLICT', `device ${deviceId} is running in another tab of this browser`);
  }

  async start(): Promise<void> {
    const device = await this.device();
    const identity = device.identity;
    const id = identity.device_id;
    await this.claim(id);
    this.identity = identity;
    const { store, cloudUrl } = this.opts;
    const cloud = { device_id: id, password: identity.credentials.password, cloud_url: cloudUrl };
    const persist = (patch: Parameters<DeviceStore['update']>[1]) =>
      void store.update(id, patch).catch((e: Error) => this.opts.log?.(`cannot save device state: ${e.message}`));
    const keys = new AgentKeyTrust({
      cloudUrl: () => cloudUrl,
      authorization: () => deviceAuthHeader(id, identity.credentials.password),
      enrolledKey: identity.signing_key,
      load: () => device.keyTrust,
      save: (t) => {
        device.keyTrust = t;
        persist({ keyTrust: t });
      },
      log: (line) => this.opts.log?.(line),
    });
    this.participant = new FlParticipant({
      identity: cloud,
      platform: tabFlPlatform(device, (rounds) => persist({ rounds })),
      localData: this.opts.data,
      checkSignature: (ref) => keys.check(ref),
      log: (line) => this.opts.log?.(line),
      ...(this.opts.threads ? { threads: this.opts.threads } : {}),
      ...(this.opts.replicas ? { replicas: this.opts.replicas } : {}),
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
    client.on('close', () => {
      if (this.client === client) this.state('offline', 'connection to the control plane lost; retrying');
    });
    client.on('error', (e) => {
      // 4: bad user name or password, 5: not authorized — the device was revoked or deleted
      const code = (e as Error & { code?: number }).code;
      if (code === 4 || code === 5) void this.revoked('the control plane refused this device’s credentials');
      else this.opts.log?.(`MQTT: ${e.message}`);
    });
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
        void this.revoked('this tab was revoked by the control plane');
      }
    } catch (e) {
      this.opts.log?.(`ignoring a ${t.verb} message: ${(e as Error).message}`);
    }
  }

  /** Revoked: forget the kept device (a new token enrolls the tab again) and leave. */
  private async revoked(why: string): Promise<void> {
    if (this.identity) await this.opts.store.forget(this.identity.device_id).catch(() => undefined);
    this.state('revoked', `${why}; enroll again with a new token`);
    clearInterval(this.heartbeatTimer);
    await this.participant?.stop();
    this.client?.end(true);
    this.client = undefined;
    this.releaseLock?.();
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
    this.releaseLock?.();
    this.state('stopped');
  }
}
