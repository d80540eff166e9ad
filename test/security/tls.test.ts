/**
 * TLS (issue 14, "TLS everywhere"): attacks on real components — a control plane serving HTTPS and
 * MQTTS from its private CA (`verge cloud --tls-auto`) and in-process edge agents.
 * - a man in the middle with a self-signed certificate for the very address the agent dials, on
 *   HTTPS (enrollment) and on MQTTS (the device password): the agent refuses it and sends nothing;
 * - a plaintext downgrade: a plain http:// cloud on another host, and an enrollment answer naming
 *   a plain mqtt:// broker on another host: the agent refuses both before a byte leaves;
 * - mTLS required: the device's id and password without its client certificate (or with another
 *   device's certificate) are refused by the broker and by the device HTTP routes.
 * The attackers listen on this host's network address (not loopback), as they would on a LAN.
 */
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildControlPlane, CloudClient, waitForDeployment, type ControlPlane } from '../../src/cloud/index.ts';
import { createCertificateAuthority, issueServerCertificate } from '../../src/cloud/certificates.ts';
import { loadCloudTls, type CloudTlsOptions } from '../../src/cloud/tls.ts';
import { EdgeAgent } from '../../src/edge/agent.ts';
import { CloudChannel } from '../../src/edge/cloud-channel.ts';
import { deviceAuthHeader } from '../../src/edge/enrollment.ts';
import { HTTP_PATHS, type Deployment, type EnrollTokenResponse } from '../../src/protocol/index.ts';
import { seedCnnBytes } from '../edge/models.ts';
import { agentOptions, sleep, waitUntil } from '../e2e/harness.ts';

function networkAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}
const LAN = networkAddress();

/** A listener that records every byte a client sends it (what a plaintext attacker reads). */
async function recorder(host: string): Promise<{ server: Server; port: number; received: () => string }> {
  const chunks: Buffer[] = [];
  const server = createTcpServer((s) => {
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  return {
    server,
    port: (server.address() as { port: number }).port,
    received: () => Buffer.concat(chunks).toString('latin1'),
  };
}

/**
 * A TLS-terminating man in the middle: presents its own self-signed certificate for `name`,
 * records what it decrypts and relays it to `target` (so an agent that trusted it would work).
 */
async function mitm(
  name: string,
  target: { host: string; port: number },
): Promise<{ server: Server; port: number; decrypted: () => string; handshakes: () => number }> {
  const own = createCertificateAuthority('attacker');
  const cert = issueServerCertificate(own, [name]);
  const chunks: Buffer[] = [];
  let handshakes = 0;
  const server = createTlsServer({ cert: `${cert.cert}${own.cert}`, key: cert.key }, (victim: TLSSocket) => {
    handshakes++;
    const upstream = tlsConnect({ host: target.host, port: target.port, rejectUnauthorized: false });
    victim.on('data', (d) => chunks.push(d));
    victim.pipe(upstream).pipe(victim);
    victim.on('error', () => upstream.destroy());
    upstream.on('error', () => victim.destroy());
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, name, () => r()));
  return {
    server,
    port: (server.address() as { port: number }).port,
    decrypted: () => Buffer.concat(chunks).toString('latin1'),
    handshakes: () => handshakes,
  };
}

function close(server: Server | undefined): Promise<void> {
  return new Promise((r) => (server ? server.close(() => r()) : r()));
}

class TlsCloud {
  dirs: string[] = [];
  constructor(
    readonly cp: ControlPlane,
    readonly url: string,
    readonly mqttUrl: string,
    readonly dataDir: string,
  ) {}

  static async start(opts: { requireClientCert?: boolean; publicMqttUrl?: string } = {}): Promise<TlsCloud> {
    const dataDir = mkdtempSync(join(tmpdir(), 'verge-tls-cloud-'));
    const cp = await buildControlPlane({
      dataDir,
      webDir: null,
      tickMs: 100,
      tls: { auto: true, requireClientCert: opts.requireClientCert },
      ...(opts.publicMqttUrl ? { publicMqttUrl: opts.publicMqttUrl } : {}),
    });
    const { url, mqttUrl } = await cp.start({ port: 0 });
    return new TlsCloud(cp, url, mqttUrl, dataDir);
  }

  get caFile(): string {
    return this.cp.caFile!;
  }

  admin(): CloudClient {
    return new CloudClient({
      url: this.url,
      apiKey: this.cp.adminKey,
      fetch: new CloudChannel({ caFile: this.caFile }).fetch,
    });
  }

  async token(): Promise<string> {
    return (await this.admin().post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, {})).token;
  }

  agentDir(name: string): string {
    const d = mkdtempSync(join(tmpdir(), `verge-tls-${name}-`));
    this.dirs.push(d);
    return d;
  }

  async close(): Promise<void> {
    await this.cp.close().catch(() => undefined);
    for (const d of [this.dataDir, ...this.dirs]) rmSync(d, { recursive: true, force: true });
  }
}

describe.skipIf(!LAN)('TLS: the agent refuses a man in the middle', () => {
  let cloud: TlsCloud;
  beforeAll(async () => {
    cloud = await TlsCloud.start();
  }, 120_000);
  afterAll(async () => cloud?.close());

  it('HTTPS: a self-signed certificate for the address the agent dials is refused; the token never reaches the attacker', async () => {
    const real = new URL(cloud.url);
    const attacker = await mitm(LAN!, { host: real.hostname, port: Number(real.port) });
    try {
      const token = await cloud.token();
      const start = EdgeAgent.start(
        agentOptions(cloud.agentDir('mitm-https'), {
          cloudUrl: `https://${LAN}:${attacker.port}`,
          enrollToken: token,
          name: 'mitm-https',
          caFile: cloud.caFile,
        }),
      );
      await expect(start).rejects.toMatchObject({ code: 'E_AUTH', message: expect.stringMatching(/does not trust/) });
      expect(attacker.handshakes()).toBe(0);
      expect(attacker.decrypted()).not.toContain(token);
      expect(attacker.decrypted()).toBe('');
    } finally {
      await close(attacker.server);
    }
  }, 120_000);

  it('MQTTS: an enrolled agent sent to a self-signed broker never sends its password', async () => {
    const dataDir = cloud.agentDir('mitm-mqtt');
    const agent = await EdgeAgent.start(
      agentOptions(dataDir, {
        cloudUrl: cloud.url,
        enrollToken: await cloud.token(),
        name: 'mitm-mqtt',
        caFile: cloud.caFile,
      }),
    );
    const real = new URL(cloud.mqttUrl);
    await waitUntil(() => agent.state === 'online', 60_000, 'the agent online on the real broker');
    const password = agent.identity.password;
    await agent.stop();
    const attacker = await mitm(LAN!, { host: real.hostname, port: Number(real.port) });
    let again: EdgeAgent | undefined;
    try {
      again = await EdgeAgent.start(
        agentOptions(dataDir, { brokerUrl: `mqtts://${LAN}:${attacker.port}`, caFile: cloud.caFile }),
      );
      // several connection attempts (reconnect backoff ≤ 500 ms in tests) reach the attacker
      await sleep(3000);
      expect(again.state).not.toBe('online');
      expect(attacker.handshakes()).toBe(0);
      expect(attacker.decrypted()).not.toContain(password);
      expect(attacker.decrypted()).toBe('');
    } finally {
      await again?.stop();
      await close(attacker.server);
    }
  }, 120_000);
});

describe('TLS: WSS', () => {
  it('an agent joins through /v1/mqtt over WSS, verified against the private CA', async () => {
    const cloud = await TlsCloud.start();
    let agent: EdgeAgent | undefined;
    try {
      agent = await EdgeAgent.start(
        agentOptions(cloud.agentDir('wss'), {
          cloudUrl: cloud.url,
          enrollToken: await cloud.token(),
          name: 'wss',
          caFile: cloud.caFile,
          brokerUrl: `${cloud.url.replace(/^https/, 'wss')}${HTTP_PATHS.mqtt}`,
        }),
      );
      await waitUntil(() => agent!.state === 'online', 60_000, 'the agent online over WSS');
    } finally {
      await agent?.stop();
      await cloud.close();
    }
  }, 120_000);
});

describe.skipIf(!LAN)('TLS: no plaintext downgrade', () => {
  it('a plain http:// cloud on another host is refused before a byte is sent', async () => {
    const plain = await recorder(LAN!);
    const dir = mkdtempSync(join(tmpdir(), 'verge-tls-plain-'));
    try {
      const start = EdgeAgent.start(
        agentOptions(dir, {
          cloudUrl: `http://${LAN}:${plain.port}`,
          enrollToken: 'et_0123456789abcdef0123456789abcdef',
          name: 'downgrade-http',
        }),
      );
      await expect(start).rejects.toMatchObject({
        code: 'E_BAD_ARGUMENT',
        message: expect.stringMatching(/refusing plaintext http/),
      });
      await sleep(200);
      expect(plain.received()).toBe('');
    } finally {
      await close(plain.server);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('an HTTPS cloud whose enrollment answer names a plain mqtt:// broker elsewhere: the password is never sent', async () => {
    const plain = await recorder(LAN!);
    const cloud = await TlsCloud.start({ publicMqttUrl: `mqtt://${LAN}:${plain.port}` });
    let agent: EdgeAgent | undefined;
    try {
      const start = EdgeAgent.start(
        agentOptions(cloud.agentDir('downgrade-mqtt'), {
          cloudUrl: cloud.url,
          enrollToken: await cloud.token(),
          name: 'downgrade-mqtt',
          caFile: cloud.caFile,
        }),
      );
      await start.then(
        (a) => (agent = a),
        (e: unknown) =>
          expect(e).toMatchObject({ code: 'E_BAD_ARGUMENT', message: expect.stringMatching(/plaintext mqtt/) }),
      );
      await sleep(2000);
      expect(agent).toBeUndefined();
      expect(plain.received()).toBe('');
    } finally {
      await agent?.stop();
      await close(plain.server);
      await cloud.close();
    }
  }, 120_000);
});

describe('TLS: mTLS required (--require-client-cert)', () => {
  let cloud: TlsCloud;
  let a: EdgeAgent;
  let b: EdgeAgent;
  beforeAll(async () => {
    cloud = await TlsCloud.start({ requireClientCert: true });
    const start = async (name: string) =>
      EdgeAgent.start(
        agentOptions(cloud.agentDir(name), {
          cloudUrl: cloud.url,
          enrollToken: await cloud.token(),
          name,
          caFile: cloud.caFile,
        }),
      );
    a = await start('mtls-a');
    b = await start('mtls-b');
    await waitUntil(() => a.state === 'online' && b.state === 'online', 60_000, 'both agents online over mTLS');
  }, 120_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await cloud?.close();
  });

  /** MQTT CONNECT over verified TLS; resolves 'connected' or the refusal. */
  async function tryBroker(
    deviceId: string,
    password: string,
    client?: { cert: string; key: string },
  ): Promise<string> {
    const channel = new CloudChannel({ caFile: cloud.caFile }, client);
    const c = mqtt.connect(cloud.mqttUrl, {
      clientId: deviceId,
      username: deviceId,
      password,
      reconnectPeriod: 0,
      connectTimeout: 20_000,
      ...channel.mqttTls(),
    });
    try {
      return await new Promise<string>((resolve) => {
        c.once('connect', () => resolve('connected'));
        c.once('error', (e) => resolve(`refused: ${e.message}`));
        c.once('close', () => resolve('closed'));
      });
    } finally {
      c.end(true);
    }
  }

  async function tryHttp(deviceId: string, password: string, client?: { cert: string; key: string }): Promise<number> {
    const channel = new CloudChannel({ caFile: cloud.caFile }, client);
    const res = await channel.fetch(`${cloud.url}${HTTP_PATHS.deviceConfig}`, {
      headers: { authorization: deviceAuthHeader(deviceId, password) },
    });
    await res.body?.cancel();
    await channel.close();
    return res.status;
  }

  it('the stolen id and password alone get in neither the broker nor the device routes', async () => {
    const id = a.identity.device_id;
    const password = a.identity.password;
    expect(a.identity.client_certificate).toMatch(/BEGIN CERTIFICATE/);
    expect(await tryBroker(id, password)).not.toBe('connected');
    expect(await tryHttp(id, password)).toBe(401);
  }, 60_000);

  it("another device's certificate does not stand for this one", async () => {
    const id = a.identity.device_id;
    const password = a.identity.password;
    const other = { cert: b.identity.client_certificate!, key: b.identity.client_key! };
    expect(await tryBroker(id, password, other)).not.toBe('connected');
    expect(await tryHttp(id, password, other)).toBe(401);
  }, 60_000);

  it('with its own certificate the device is served (control): a deployment downloads and loads over mTLS', async () => {
    const own = { cert: a.identity.client_certificate!, key: a.identity.client_key! };
    expect(await tryHttp(a.identity.device_id, a.identity.password, own)).toBe(200);
    const admin = cloud.admin();
    const { sha256 } = await admin.upload<{ sha256: string }>(HTTP_PATHS.artifacts, seedCnnBytes());
    await admin.post(HTTP_PATHS.models, { name: 'seed', version: '1.0.0', sha256 });
    const dep = await admin.post<Deployment>(HTTP_PATHS.deployments, {
      model: 'seed',
      version: '1.0.0',
      target: { devices: ['mtls-a', 'mtls-b'] },
    });
    const done = await waitForDeployment(admin, dep.id, { timeoutMs: 90_000, pollMs: 200 });
    expect(done.state).toBe('succeeded');
    expect(a.served.names()).toContain('seed');
  }, 120_000);
});

describe('TLS options', () => {
  it('refuses what cannot work, in one line, before anything listens', () => {
    const dir = mkdtempSync(join(tmpdir(), 'verge-tls-opts-'));
    try {
      const own = issueServerCertificate(createCertificateAuthority('own PKI'), ['cloud.example']);
      const other = issueServerCertificate(createCertificateAuthority('other'), ['cloud.example']);
      writeFileSync(join(dir, 'cert.pem'), own.cert);
      writeFileSync(join(dir, 'key.pem'), own.key);
      writeFileSync(join(dir, 'other-key.pem'), other.key);
      const bad = (opts: CloudTlsOptions) => () => loadCloudTls(join(dir, 'data'), opts);
      expect(bad({ requireClientCert: true })).toThrow(/--require-client-cert needs TLS/);
      expect(bad({ names: ['x.example'] })).toThrow(/add --tls-auto/);
      expect(bad({ certFile: join(dir, 'cert.pem') })).toThrow(/go together/);
      expect(bad({ certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'other-key.pem') })).toThrow(/is not the key/);
      expect(bad({ certFile: join(dir, 'nope.pem'), keyFile: join(dir, 'key.pem') })).toThrow(/ENOENT/);
      const tls = loadCloudTls(join(dir, 'data'), { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') });
      expect(tls!.server.cert).toBe(own.cert);
      // the private CA is made all the same: it issues the devices' client certificates
      expect(existsSync(tls!.caFile)).toBe(true);
      expect(statSync(join(dir, 'data', 'tls', 'ca-key.pem')).mode & 0o077).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
