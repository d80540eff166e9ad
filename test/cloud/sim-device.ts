/**
 * A minimal simulated device speaking verge's protocol over real MQTT and HTTP — enough to drive
 * the control plane in tests (the real agent is src/edge/). It enrolls, connects with its
 * credentials, receives its retained desired state, downloads (optionally resuming), verifies
 * sha256 + signature, and acks/telemeters as told.
 */
import { createHash } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import {
  HTTP_PATHS,
  decodeMessage,
  deviceSubscriptions,
  deviceTopic,
  emptyHistogram,
  encodeMessage,
  observeLatency,
  selectVariant,
  verifyArtifactSignature,
  VERBS,
  type AckState,
  type ArtifactRef,
  type CommandMessage,
  type DeployMessage,
  type DeviceProfile,
  type EnrollResponse,
  type MessageInput,
  type DeviceVerb,
  type TelemetryMessage,
} from '../../src/protocol/index.ts';

export const PROFILE_X64: DeviceProfile = {
  arch: 'x64',
  platform: 'linux',
  cpu: { model: 'sim', cores: 2 },
  memory_mb: 2048,
  precisions: ['fp32', 'int8'],
  accelerators: [],
};

export async function enroll(
  cloudUrl: string,
  token: string,
  name: string,
  profile: DeviceProfile = PROFILE_X64,
): Promise<{ status: number; body: EnrollResponse & { error?: { code: string } } }> {
  const res = await fetch(cloudUrl + HTTP_PATHS.enroll, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, name, profile }),
  });
  return { status: res.status, body: (await res.json()) as EnrollResponse & { error?: { code: string } } };
}

export function waitFor<T>(
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const poll = async () => {
      try {
        const v = await fn();
        if (v) return resolve(v);
      } catch (e) {
        if (Date.now() - started > timeoutMs) return reject(e);
      }
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 25);
    };
    void poll();
  });
}

export class SimDevice {
  client: MqttClient | null = null;
  desired: DeployMessage[] = [];
  commands: CommandMessage[] = [];
  /** What the device "serves" after a successful load, per model name. */
  serving = new Map<string, { version: string; variant: string; sha256: string; deployment_id: string }>();
  /** When set, a deploy message is handled automatically: download, verify, ack loaded (or fail). */
  auto: { failVersions?: string[] } | null = null;

  constructor(
    readonly cloudUrl: string,
    readonly enrollment: EnrollResponse,
    readonly profile: DeviceProfile = PROFILE_X64,
  ) {}

  get id(): string {
    return this.enrollment.device_id;
  }

  get authHeader(): string {
    const { username, password } = this.enrollment.credentials;
    return 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64');
  }

  static async create(
    cloudUrl: string,
    token: string,
    name: string,
    profile: DeviceProfile = PROFILE_X64,
  ): Promise<SimDevice> {
    const r = await enroll(cloudUrl, token, name, profile);
    if (r.status !== 200) throw new Error(`enroll failed: ${r.status} ${JSON.stringify(r.body)}`);
    return new SimDevice(cloudUrl, r.body, profile);
  }

  /** Connect to the broker; resolves on CONNACK, rejects on refusal. */
  async connect(opts: { mqttUrl?: string; password?: string; clientId?: string } = {}): Promise<void> {
    const url = opts.mqttUrl ?? this.enrollment.mqtt_url;
    const will = {
      topic: deviceTopic(this.id, 'status'),
      payload: encodeMessage('status', { device_id: this.id, state: 'offline', reason: 'connection lost' }),
      qos: 1 as const,
      retain: true,
    };
    const client = await mqtt.connectAsync(
      url,
      {
        clientId: opts.clientId ?? this.id,
        username: this.enrollment.credentials.username,
        password: opts.password ?? this.enrollment.credentials.password,
        reconnectPeriod: 0,
        clean: true,
        will,
      },
      false,
    );
    this.client = client;
    client.on('error', () => undefined);
    client.on('message', (topic, payload) => {
      if (payload.length === 0) return;
      if (topic === deviceTopic(this.id, 'deploy')) {
        const msg = decodeMessage('deploy', payload);
        this.desired.push(msg);
        if (this.auto) this.apply(msg).catch(() => undefined); // a dropped connection ends the attempt
      } else if (topic === deviceTopic(this.id, 'command')) this.commands.push(decodeMessage('command', payload));
    });
    await this.publish('status', { device_id: this.id, state: 'online' });
  }

  /** Subscribe to the device's own topics (or `filters`); returns the granted QoS per filter (128 = refused). */
  async subscribe(filters: string[] = deviceSubscriptions(this.id)): Promise<number[]> {
    try {
      const granted = await this.client!.subscribeAsync(filters, { qos: 1 });
      return granted.map((g) => g.qos);
    } catch (e) {
      // mqtt.js rejects when the broker refuses (SUBACK 0x80); report the granted codes instead
      const granted = (e as { packet?: { granted?: (number | { qos: number })[] } }).packet?.granted;
      if (!granted) throw e;
      return granted.map((g) => (typeof g === 'number' ? g : g.qos));
    }
  }

  async publish<V extends DeviceVerb>(verb: V, msg: MessageInput<V>, raw?: Buffer): Promise<Buffer> {
    const payload = raw ?? encodeMessage(verb, msg);
    await this.client!.publishAsync(deviceTopic(this.id, verb), payload, {
      qos: VERBS[verb].qos === 0 ? 0 : 1,
      retain: VERBS[verb].retained,
    });
    return payload;
  }

  async ack(
    deploymentId: string,
    model: { name: string; version: string },
    state: AckState,
    extra: { variant?: string; sha256?: string; error?: { code: string; message: string } } = {},
  ): Promise<void> {
    await this.publish('ack', { device_id: this.id, deployment_id: deploymentId, model, state, ...extra });
  }

  async heartbeat(): Promise<void> {
    await this.publish('heartbeat', {
      device_id: this.id,
      uptime_s: 1,
      profile: this.profile,
      models: [...this.serving.entries()].map(([name, s]) => ({ name, ...s })),
    });
  }

  /** One telemetry record for a served model; returns its payload (to resend = redeliver). */
  async telemetry(model: string, inferences: number, errors: number, latencyMs = 2): Promise<Buffer> {
    const s = this.serving.get(model);
    if (!s) throw new Error(`${this.id} does not serve ${model}`);
    const h = emptyHistogram();
    for (let i = 0; i < inferences; i++) observeLatency(h, latencyMs);
    return this.publish('telemetry', {
      device_id: this.id,
      window_start: Date.now() - 1000,
      window_end: Date.now(),
      model: { name: model, version: s.version, variant: s.variant },
      deployment_id: s.deployment_id,
      inferences,
      errors,
      latency_ms: h,
    });
  }

  /** Download an artifact over HTTP, optionally in two halves (Range resume), and verify it. */
  async download(ref: ArtifactRef, opts: { resumeAt?: number } = {}): Promise<Buffer> {
    const url = this.cloudUrl + ref.url;
    const parts: Buffer[] = [];
    if (opts.resumeAt !== undefined) {
      const a = await fetch(url, {
        headers: { authorization: this.authHeader, range: `bytes=0-${opts.resumeAt - 1}` },
      });
      if (a.status !== 206) throw new Error(`range request answered ${a.status}`);
      parts.push(Buffer.from(await a.arrayBuffer()));
      const b = await fetch(url, { headers: { authorization: this.authHeader, range: `bytes=${opts.resumeAt}-` } });
      if (b.status !== 206) throw new Error(`resume answered ${b.status}`);
      parts.push(Buffer.from(await b.arrayBuffer()));
    } else {
      const r = await fetch(url, { headers: { authorization: this.authHeader } });
      if (r.status !== 200) {
        // the cloud's own refusal (e.g. E_INTEGRITY for an artifact damaged on the server) is the ack's code
        const body = (await r.json().catch(() => null)) as { error?: { code?: string } } | null;
        throw Object.assign(new Error(`download answered ${r.status}`), { code: body?.error?.code });
      }
      parts.push(Buffer.from(await r.arrayBuffer()));
    }
    const bytes = Buffer.concat(parts);
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== ref.sha256) throw Object.assign(new Error('sha256 mismatch'), { code: 'E_INTEGRITY' });
    if (!verifyArtifactSignature(sha, ref.signature, this.enrollment.signing_key.public_key_pem))
      throw Object.assign(new Error('bad signature'), { code: 'E_SIGNATURE' });
    return bytes;
  }

  /** Converge to a desired state like an agent would (ack each step). */
  async apply(msg: DeployMessage): Promise<void> {
    for (const m of msg.models) {
      const cur = this.serving.get(m.name);
      if (cur && cur.version === m.version && cur.deployment_id === m.deployment_id) continue;
      const ref = selectVariant(m.variants, this.profile);
      const model = { name: m.name, version: m.version };
      await this.ack(m.deployment_id, model, 'received');
      if (!ref) {
        await this.ack(m.deployment_id, model, 'failed', {
          error: { code: 'E_UNSUPPORTED', message: 'no variant fits' },
        });
        continue;
      }
      await this.ack(m.deployment_id, model, 'downloading', { variant: ref.variant });
      try {
        await this.download(ref);
      } catch (e) {
        await this.ack(m.deployment_id, model, 'rejected', {
          variant: ref.variant,
          error: { code: (e as { code?: string }).code ?? 'E_NETWORK', message: (e as Error).message },
        });
        continue;
      }
      await this.ack(m.deployment_id, model, 'verified', { variant: ref.variant, sha256: ref.sha256 });
      if (this.auto?.failVersions?.includes(m.version)) {
        await this.ack(m.deployment_id, model, 'failed', {
          variant: ref.variant,
          error: { code: 'E_RUNTIME', message: 'simulated load failure' },
        });
        continue;
      }
      this.serving.set(m.name, {
        version: m.version,
        variant: ref.variant,
        sha256: ref.sha256,
        deployment_id: m.deployment_id,
      });
      await this.ack(m.deployment_id, model, 'loaded', { variant: ref.variant, sha256: ref.sha256 });
    }
    for (const name of [...this.serving.keys()])
      if (!msg.models.some((m) => m.name === name)) this.serving.delete(name);
  }

  latestDesired(): DeployMessage | undefined {
    return this.desired[this.desired.length - 1];
  }

  async close(): Promise<void> {
    await this.client?.endAsync(true).catch(() => undefined);
    this.client = null;
  }
}

/** One telemetry record of `d` (one 1 ms inference of `model`), with id `<device>-<tag>-<i>`; `extra` overrides fields. */
export function telemetryRecord(
  d: { id: string },
  i: number,
  extra: Partial<TelemetryMessage> & { tag?: string } = {},
): TelemetryMessage {
  const { tag = 't', ...fields } = extra;
  const latency_ms = emptyHistogram();
  latency_ms.counts[2] = 1;
  latency_ms.count = 1;
  latency_ms.sum = 1;
  return {
    v: 1,
    id: `${d.id}-${tag}-${String(i).padStart(6, '0')}`,
    ts: Date.now(),
    device_id: d.id,
    window_start: Date.now() - 1000,
    window_end: Date.now(),
    model: { name: 'victim-model', version: '1.0.0', variant: 'fp32' },
    deployment_id: null,
    inferences: 1,
    errors: 0,
    latency_ms,
    ...fields,
  };
}
