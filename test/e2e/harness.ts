/**
 * End-to-end harness: a real control plane (buildControlPlane; embedded aedes + SQLite, or an
 * external broker + PostgreSQL), real edge agents (EdgeAgent, in-process or as `verge agent`
 * processes), talking real HTTP and MQTT on ephemeral ports.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { buildControlPlane, CloudClient, type ControlPlane, type ControlPlaneOptions } from '../../src/cloud/index.ts';
import { rng, type Split } from '../../src/data/dataset.ts';
import { EdgeAgent, type EdgeAgentOptions } from '../../src/edge/agent.ts';
import { parseProfileSpec } from '../../src/edge/profile.ts';
import { deviceAuthHeader } from '../../src/edge/enrollment.ts';
import {
  EDGE_LOOP_PATHS,
  HTTP_PATHS,
  addToDriftSummary,
  emptyDriftSummary,
  type CreateDeploymentRequest,
  type Deployment,
  type EnrollTokenResponse,
  type ModelVersion,
  type StatusResponse,
} from '../../src/protocol/index.ts';
import { freePort, retryWhilePortTaken } from '../edge/brokers.ts';
import { fixturePath } from '../fixtures/index.ts';

export interface CloudOptions {
  db?: string;
  pgSchema?: string;
  broker?: string;
  /** The built web app to serve at / (test/web builds one); default none. */
  webDir?: string | null;
  /** Per-device edge-loop upload bounds (default: the control plane's). */
  uploadLimits?: ControlPlaneOptions['uploadLimits'];
  /** The control plane's retrain scheduler (default off). */
  autoRetrain?: ControlPlaneOptions['autoRetrain'];
}

export class TestCloud {
  cp!: ControlPlane;
  url = '';
  admin!: CloudClient;
  private httpPort = 0;
  private mqttPort = 0;
  private readonly instanceId = `e2e-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  constructor(
    readonly dataDir: string,
    readonly opts: CloudOptions,
  ) {}

  static async start(opts: CloudOptions = {}): Promise<TestCloud> {
    const c = new TestCloud(mkdtempSync(join(tmpdir(), 'verge-e2e-cloud-')), opts);
    c.httpPort = await freePort();
    c.mqttPort = opts.broker ? 0 : await freePort();
    await c.up();
    return c;
  }

  /** Start (again) on the same ports and data dir: a restart, as agents see it. */
  async up(): Promise<void> {
    await retryWhilePortTaken(
      () => this.startOnce(),
      () => this.cp.close(),
    );
  }

  private async startOnce(): Promise<void> {
    this.cp = await buildControlPlane({
      dataDir: this.dataDir,
      db: this.opts.db,
      pgSchema: this.opts.pgSchema,
      broker: this.opts.broker,
      // as `verge cloud` does by default (host name): a persistent broker session for this replica
      instanceId: this.opts.broker ? this.instanceId : undefined,
      mqttPort: this.opts.broker ? undefined : this.mqttPort,
      tickMs: 100,
      webDir: this.opts.webDir ?? null,
      uploadLimits: this.opts.uploadLimits,
      autoRetrain: this.opts.autoRetrain,
    });
    const { url } = await this.cp.start({ port: this.httpPort });
    this.url = url;
    this.admin = new CloudClient({ url, apiKey: this.cp.adminKey });
  }

  async down(): Promise<void> {
    await this.cp.close();
  }

  async close(): Promise<void> {
    await this.cp.close().catch(() => undefined);
    rmSync(this.dataDir, { recursive: true, force: true });
    for (const d of agentDirs) rmSync(d, { recursive: true, force: true });
    agentDirs.clear();
  }

  async token(tags: Record<string, string> = {}): Promise<string> {
    return (await this.admin.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, { tags })).token;
  }

  async publish(
    name: string,
    version: string,
    bytes: Uint8Array,
    variant = 'fp32',
    precision = 'fp32',
  ): Promise<ModelVersion> {
    const a = await this.admin.upload<{ sha256: string }>(HTTP_PATHS.artifacts, bytes);
    return this.admin.post<ModelVersion>(HTTP_PATHS.models, { name, version, sha256: a.sha256, variant, precision });
  }

  deploy(req: CreateDeploymentRequest): Promise<Deployment> {
    return this.admin.post<Deployment>(HTTP_PATHS.deployments, req);
  }

  deployment(id: string): Promise<Deployment> {
    return this.admin.get<Deployment>(HTTP_PATHS.deployment(id));
  }

  async waitDeployment(id: string, states: Deployment['state'][], timeoutMs = 30_000): Promise<Deployment> {
    let d = await this.deployment(id);
    const until = Date.now() + timeoutMs;
    while (!states.includes(d.state)) {
      if (Date.now() > until)
        throw new Error(
          `deployment ${id} is ${d.state} (${d.reason}), not ${states.join('/')}: ${JSON.stringify(d.devices.map((x) => [x.name, x.state, x.error?.code]))}`,
        );
      await sleep(100);
      d = await this.deployment(id);
    }
    return d;
  }

  async status(): Promise<StatusResponse> {
    await this.cp.flush();
    return this.admin.get<StatusResponse>(HTTP_PATHS.status);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Agent options for tests: short intervals and backoff, one onnxruntime thread. */
export function agentOptions(dataDir: string, extra: Partial<EdgeAgentOptions> = {}): EdgeAgentOptions {
  return {
    dataDir,
    profile: parseProfileSpec('gateway'),
    port: 0,
    heartbeatIntervalMs: 500,
    telemetryIntervalMs: 200,
    reconnectBaseMs: 50,
    reconnectMaxMs: 500,
    sessionThreads: 1,
    ...extra,
  };
}

/** Agent data dirs made by startAgent; removed by TestCloud.close() (after the agents stopped). */
const agentDirs = new Set<string>();

export async function startAgent(
  cloud: TestCloud,
  name: string,
  extra: Partial<EdgeAgentOptions> = {},
): Promise<EdgeAgent> {
  const dataDir = mkdtempSync(join(tmpdir(), `verge-e2e-${name}-`));
  agentDirs.add(dataDir);
  return EdgeAgent.start(
    agentOptions(dataDir, { cloudUrl: cloud.url, enrollToken: await cloud.token(), name, ...extra }),
  );
}

/** One Fashion-MNIST-shaped request through the agent's real HTTP API; returns the status code. */
export async function predict(
  agent: { url: string },
  model: string,
  batch = 1,
  value = 0.5,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${agent.url}/v1/models/${model}:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: { input: { dims: [batch, 1, 28, 28], data: new Array(batch * 784).fill(value) } } }),
  });
  return { status: res.status, body: await res.json() };
}

/**
 * Publish `bytes` as `name`@1.0.0, deploy it to `agent` alone and wait until that succeeded, then
 * set the deployment's edge-loop `policy` and wait until the agent holds it.
 */
export async function deployWithLoopPolicy(
  cloud: TestCloud,
  agent: EdgeAgent,
  name: string,
  bytes: Uint8Array,
  policy: unknown,
): Promise<Deployment> {
  await cloud.publish(name, '1.0.0', bytes);
  const dep = await cloud.deploy({ model: name, version: '1.0.0', target: { devices: [agent.name] } });
  await cloud.waitDeployment(dep.id, ['succeeded']);
  await cloud.admin.request('PUT', EDGE_LOOP_PATHS.policy(dep.id), policy);
  await waitUntil(() => !!agent.loop.collector.policyOf(name), 10_000, 'the policy');
  return dep;
}

/** `n` Fashion-MNIST-shaped samples of `x` through the agent's real HTTP API, 50 per request. */
export async function predictBatches(agent: { url: string }, model: string, x: Float32Array, n: number): Promise<void> {
  for (let at = 0; at < n; at += 50) {
    const res = await fetch(`${agent.url}/v1/models/${model}:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'x-verge-dims': '50,1,28,28' },
      body: x.slice(at * 784, (at + 50) * 784),
    });
    expect(res.status).toBe(200);
  }
}

/** The edge-loop benchmark's camera change: contrast halved around 0.5, +0.15 brightness, noise σ 0.05. */
export function cameraShift(x: Float32Array, seed: number): Float32Array {
  const r = rng(seed);
  return x.map((v) => Math.min(1, Math.max(0, 0.5 + (v - 0.5) * 0.5 + 0.15 + 0.05 * (r() + r() + r() - 1.5) * 2)));
}

/** POST an edge-loop upload batch (any bytes) with the agent's device credentials. */
export function deviceUpload(url: string, agent: EdgeAgent, body: Uint8Array): Promise<Response> {
  return fetch(`${url}${EDGE_LOOP_PATHS.items}`, {
    method: 'POST',
    headers: {
      authorization: deviceAuthHeader(agent.deviceId, agent.identity.password),
      'content-type': 'application/octet-stream',
    },
    body,
  });
}

/**
 * The drift tests' set-up: the Fashion-MNIST seed CNN as `clf@1.0.0` on `agent`, collecting every
 * input (quantize-delta:8), with `train` as its drift reference.
 */
export async function deployDriftWatched(cloud: TestCloud, agent: EdgeAgent, train: Split): Promise<Deployment> {
  const dep = await deployWithLoopPolicy(cloud, agent, 'clf', readFileSync(fixturePath('seed_cnn_fmnist')), {
    collect: { sample_rate: 1, codecs: ['quantize-delta:8'] },
  });
  const ref = emptyDriftSummary();
  addToDriftSummary(ref, train.x, train.count, train.y);
  await cloud.admin.request('PUT', EDGE_LOOP_PATHS.reference('clf@1.0.0'), ref);
  return dep;
}

/**
 * An operator labels what `agent` collected for clf with the true labels: the first `calm` items
 * were test samples 0…calm-1, the rest test samples 0… again (shifted).
 */
export async function labelCollected(cloud: TestCloud, agent: EdgeAgent, y: Int32Array, calm: number): Promise<void> {
  const labels = agent.loop.store.all('clf').map((it, i) => ({
    device_id: agent.deviceId,
    id: it.id,
    label: y[i < calm ? i : i - calm]!,
  }));
  await cloud.admin.post(EDGE_LOOP_PATHS.labels, { labels, model: 'clf' });
}
