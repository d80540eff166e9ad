/**
 * An external Mosquitto over TLS (docs/security.md "External broker over TLS"): a private
 * Mosquitto on a free port with a TLS-only listener whose certificate is the one `verge cloud
 * --tls-auto` issued (its files in <data-dir>/tls), plus the lines verge writes (verge.conf). The
 * control plane connects with --broker mqtts://… --broker-ca, an agent enrolled over HTTPS
 * connects with --ca, and the cloud sees it online. A client that does not trust the private CA
 * and a plaintext client get nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildControlPlane, CloudClient, type ControlPlane } from '../../src/cloud/index.ts';
import { EdgeAgent } from '../../src/edge/agent.ts';
import { CloudChannel } from '../../src/edge/cloud-channel.ts';
import { HTTP_PATHS, type EnrollTokenResponse } from '../../src/protocol/index.ts';
import { agentOptions, waitUntil } from '../e2e/harness.ts';
import { freePort, MOSQUITTO_BIN, mosquittoSkipReason } from '../edge/brokers.ts';
import { waitFor } from '../cloud/sim-device.ts';

const skip = mosquittoSkipReason();

/** CONNECT to the broker with these options; resolves 'connected' or why not. */
async function tryConnect(url: string, opts: mqtt.IClientOptions): Promise<string> {
  const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 15_000, ...opts });
  try {
    return await new Promise<string>((resolve) => {
      c.once('connect', () => resolve('connected'));
      c.once('error', (e) => resolve(`error: ${e.message}`));
      c.once('close', () => resolve('closed'));
    });
  } finally {
    c.end(true);
  }
}

describe.skipIf(!!skip)('external Mosquitto over TLS', () => {
  let dir: string;
  let cp: ControlPlane;
  let broker: ChildProcess;
  let agent: EdgeAgent | undefined;
  let brokerUrl: string;
  let caFile: string;
  let admin: CloudClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'verge-mosq-tls-'));
    const port = await freePort();
    brokerUrl = `mqtts://127.0.0.1:${port}`;
    const dataDir = join(dir, 'data');
    caFile = join(dataDir, 'tls', 'ca-cert.pem');
    cp = await buildControlPlane({
      dataDir,
      broker: brokerUrl,
      brokerCaFile: caFile,
      mosquittoAuthDir: join(dir, 'auth'),
      instanceId: 'tls-replica',
      tls: { auto: true },
      tickMs: 100,
      webDir: null,
    });
    const tls = join(dataDir, 'tls');
    writeFileSync(
      join(dir, 'mosquitto.conf'),
      [
        `listener ${port} 127.0.0.1`,
        `cafile ${join(tls, 'ca-cert.pem')}`,
        `certfile ${join(tls, 'server-cert.pem')}`,
        `keyfile ${join(tls, 'server-key.pem')}`,
        'tls_version tlsv1.2',
        'persistence false',
        'user root',
        '',
      ].join('\n') + readFileSync(join(dir, 'auth', 'verge.conf'), 'utf8'),
    );
    broker = spawn(MOSQUITTO_BIN!, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
    const { url } = await waitFor(() => cp.start({ port: 0 }).catch(() => null), 'control plane on mqtts', 60_000);
    admin = new CloudClient({ url, apiKey: cp.adminKey, fetch: new CloudChannel({ caFile }).fetch });
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await cp?.close();
    broker?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the control plane and an agent talk through it over verified TLS', async () => {
    const { token } = await admin.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, {});
    const agentDir = join(dir, 'agent');
    const start = EdgeAgent.start(
      agentOptions(agentDir, { cloudUrl: cp.url!, enrollToken: token, name: 'mosq-tls', caFile }),
    );
    // the new device's password reaches Mosquitto's password file on enrollment; SIGHUP reloads it
    agent = await start;
    broker.kill('SIGHUP');
    expect(agent.identity.mqtt_url).toBe(brokerUrl);
    await waitUntil(() => agent!.state === 'online', 60_000, 'the agent online over mqtts');
    await waitUntil(
      async () => {
        const d = await admin.get<{ devices: { name: string; status: string }[] }>(HTTP_PATHS.devices);
        return d.devices.some((x) => x.name === 'mosq-tls' && x.status === 'online');
      },
      60_000,
      'the cloud to see the agent online (its status went through Mosquitto)',
    );
  }, 120_000);

  it('a client without the private CA, and a plaintext client, get nothing', async () => {
    const id = agent!.identity.device_id;
    const login = { clientId: `${id}-probe`, username: id, password: agent!.identity.password };
    expect(await tryConnect(brokerUrl, { ...login, rejectUnauthorized: true })).toMatch(
      /certificate|self.signed|verify/i,
    );
    expect(await tryConnect(brokerUrl.replace('mqtts:', 'mqtt:'), login)).not.toBe('connected');
  }, 60_000);
});
