/**
 * One device's MQTT session: connects with its per-device credentials, subscribes to its own
 * cloud→device topics, and reconnects after any loss with exponential backoff and full jitter
 * (so a fleet that lost its broker does not reconnect in lock-step). mqtt.js's fixed-period
 * reconnect is turned off; this class schedules every reconnect itself.
 */
import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { deviceSubscriptions, deviceTopic, encodeMessage } from '../protocol/index.ts';

/** First reconnect delay cap; doubles per failed attempt up to RECONNECT_MAX_MS. */
export const RECONNECT_BASE_MS = 250;
/** Longest wait between reconnect attempts: short enough that an outage of minutes heals quickly. */
export const RECONNECT_MAX_MS = 15_000;
/** MQTT keepalive; the broker declares the device gone (and publishes its will) after 1.5×. */
export const KEEPALIVE_S = 30;
export const CONNECT_TIMEOUT_MS = 10_000;
/** How long a clean stop waits for the broker to take the DISCONNECT. */
export const STOP_TIMEOUT_MS = 2_000;

/** "Full jitter" backoff: uniform in [0, min(max, base·2^attempt)] (AWS Architecture Blog, 2015). */
export function backoffDelay(
  attempt: number,
  baseMs = RECONNECT_BASE_MS,
  maxMs = RECONNECT_MAX_MS,
  random: () => number = Math.random,
): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(random() * cap);
}

export interface MqttSessionOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  subscriptions: string[];
  will?: { topic: string; payload: Buffer; qos: 0 | 1; retain: boolean };
  baseDelayMs?: number;
  maxDelayMs?: number;
  keepaliveS?: number;
  /** For mqtts:// and wss://: the CA to verify the broker with and the client certificate (cloud-channel.ts). */
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized: true };
}

/**
 * A device's session: its own login (client id = username = device id), its cloud → device topics,
 * and an `offline` status as its will (the broker publishes it when the connection is lost).
 */
export function deviceSessionOptions(url: string, deviceId: string, password: string): MqttSessionOptions {
  return {
    url,
    clientId: deviceId,
    username: deviceId,
    password,
    subscriptions: deviceSubscriptions(deviceId),
    will: {
      topic: deviceTopic(deviceId, 'status'),
      payload: encodeMessage('status', { device_id: deviceId, state: 'offline', reason: 'connection lost' }),
      qos: 1,
      retain: true,
    },
  };
}

export interface MqttSessionEvents {
  connected: [];
  disconnected: [reason: string];
  /** The broker refused the credentials or a subscription (revoked or unknown device). */
  refused: [reason: string];
  message: [topic: string, payload: Buffer];
}

export class MqttSession extends EventEmitter<MqttSessionEvents> {
  private client?: MqttClient;
  private timer?: NodeJS.Timeout;
  private attempt = 0;
  private stopped = false;
  private up = false;
  /** Times a connection was (re)established; 1 after the first connect. */
  connects = 0;
  lastError?: string;

  constructor(private readonly opts: MqttSessionOptions) {
    super();
  }

  get connected(): boolean {
    return this.up;
  }

  start(): void {
    if (this.client) return;
    this.stopped = false;
    const o: IClientOptions = {
      clientId: this.opts.clientId,
      username: this.opts.username,
      password: this.opts.password,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: CONNECT_TIMEOUT_MS,
      keepalive: this.opts.keepaliveS ?? KEEPALIVE_S,
      // mqtt.js otherwise restarts its keepalive timer (clearInterval + setInterval) on every PUBACK
      // it receives: a timer per acknowledged record under a burst, to save one 2-byte PINGREQ per
      // keepalive. The ping then goes every keepalive period, traffic or not.
      reschedulePings: false,
      will: this.opts.will,
      ...(this.opts.tls ?? {}),
      // mqtt.js calls its `debug` logger several times per packet, with arguments, even when it
      // prints nothing: a cost per message on a small device. Without DEBUG set it prints nothing anyway.
      ...(process.env.DEBUG ? {} : { log: () => undefined }),
    };
    const client = mqtt.connect(this.opts.url, o);
    this.client = client;
    client.on('connect', () => {
      if (this.opts.subscriptions.length === 0) {
        this.attempt = 0;
        this.up = true;
        this.connects++;
        this.emit('connected');
        return;
      }
      client.subscribe(this.opts.subscriptions, { qos: 1 }, (err, granted) => {
        if (err) {
          this.lastError = err.message;
          return;
        }
        const denied = (granted ?? []).filter((g) => g.qos === 128);
        if (denied.length) {
          this.lastError = `subscription refused: ${denied.map((d) => d.topic).join(', ')}`;
          this.emit('refused', this.lastError);
          client.end(true);
          return;
        }
        this.attempt = 0;
        this.up = true;
        this.connects++;
        this.emit('connected');
      });
    });
    client.on('message', (topic, payload) => this.emit('message', topic, payload));
    client.on('error', (err) => {
      this.lastError = err.message;
      const code = (err as { code?: number }).code;
      // CONNACK 4 = bad user name or password, 5 = not authorized (MQTT 3.1.1 §3.2.2.3).
      if (code === 4 || code === 5) this.emit('refused', err.message);
    });
    client.on('close', () => {
      const was = this.up;
      this.up = false;
      if (was) this.emit('disconnected', this.lastError ?? 'connection closed');
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.timer) return;
    const delay = backoffDelay(this.attempt++, this.opts.baseDelayMs, this.opts.maxDelayMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped || !this.client) return;
      this.client.reconnect();
    }, delay);
    this.timer.unref?.();
  }

  /** Publish; resolves when the broker acknowledged (QoS 1) or the packet was written (QoS 0). */
  publish(topic: string, payload: Buffer | string, qos: 0 | 1, retain = false): Promise<void> {
    const client = this.client;
    if (!client || !this.up) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) =>
      client.publish(topic, payload, { qos, retain }, (err) => (err ? reject(err) : resolve())),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const client = this.client;
    const wasUp = this.up;
    this.client = undefined;
    this.up = false;
    if (!client) return;
    // A clean DISCONNECT only makes sense on a live connection; otherwise close at once. A broker
    // that does not take the DISCONNECT in time gets the socket closed under it.
    const ended = new Promise<void>((resolve) => client.end(!wasUp, {}, () => resolve()));
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      ended.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), STOP_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    if (late) await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
  }

  /** Drop the connection without a clean DISCONNECT (the broker publishes the will), as a crash would. */
  async kill(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    this.up = false;
    if (client) await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
  }
}
