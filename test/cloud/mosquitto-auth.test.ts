/**
 * External-broker ACLs: a private Mosquitto (started here, on a free port) reads the password and
 * ACL files the control plane generates. Checks that an enrolled device logs in, cannot read
 * another device's topics, and is refused after revocation + reload (SIGHUP).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildControlPlane, CloudClient, type ControlPlane } from '../../src/cloud/index.ts';
import { MOSQUITTO_CONF_FILE, MOSQUITTO_CONFIG, mosquittoPasswordHash } from '../../src/cloud/mosquitto-auth.ts';
import {
  HTTP_PATHS,
  deviceTopic,
  encodeMessage,
  type Deployment,
  type EnrollTokenResponse,
  type ModelVersion,
} from '../../src/protocol/index.ts';
import { SimDevice, waitFor } from './sim-device.ts';
import { freePort } from '../edge/brokers.ts';

const MOSQUITTO = '/usr/sbin/mosquitto';
const mosquittoMissing = spawnSync(MOSQUITTO, ['-h']).error ? `${MOSQUITTO} not installed` : null;
if (mosquittoMissing && process.env.CI === 'true') throw new Error(`required under CI: ${mosquittoMissing}`);
if (mosquittoMissing) console.warn(`[skip] ${mosquittoMissing}`);

describe.skipIf(mosquittoMissing !== null)('generated Mosquitto auth files (external broker ACLs)', () => {
  let dir: string;
  let broker: ChildProcess;
  let cp: ControlPlane;
  let admin: CloudClient;
  let url: string;
  const servicePassword = 'svc-test-password';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'verge-mosq-'));
    const port = await freePort();
    const brokerUrl = `mqtt://127.0.0.1:${port}`;
    cp = await buildControlPlane({
      dataDir: join(dir, 'data'),
      broker: brokerUrl,
      brokerUsername: 'verge-cloud',
      brokerPassword: servicePassword,
      mosquittoAuthDir: join(dir, 'auth'),
      tickMs: 100,
    });
    writeFileSync(
      join(dir, 'mosquitto.conf'),
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous false',
        `password_file ${dir}/auth/passwd`,
        `acl_file ${dir}/auth/acl`,
        'persistence false',
        'user root',
        '',
      ].join('\n'),
    );
    broker = spawn(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
    // wait for the broker to accept the service login
    await waitFor(async () => {
      const c = await mqtt
        .connectAsync(brokerUrl, { username: cp.mqttClientId, password: servicePassword, reconnectPeriod: 0 }, false)
        .catch(() => null);
      await c?.endAsync();
      return c !== null;
    }, 'mosquitto up');
    url = (await cp.start({ port: 0 })).url;
    admin = new CloudClient({ url, apiKey: cp.adminKey });
  });

  afterAll(async () => {
    await cp?.close();
    broker?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('verge.conf and the k8s manifest carry the recommended delivery settings (MOSQUITTO_CONFIG)', () => {
    const conf = readFileSync(join(dir, 'auth', MOSQUITTO_CONF_FILE), 'utf8').split('\n');
    const manifest = readFileSync(join(import.meta.dirname, '../../deploy/k8s/mosquitto.yaml'), 'utf8')
      .split('\n')
      .map((l) => l.trim());
    for (const line of MOSQUITTO_CONFIG) {
      expect(conf).toContain(line);
      expect(manifest).toContain(line);
    }
  });

  it('hashes passwords in the mosquitto_passwd $7$ format', () => {
    const h = mosquittoPasswordHash('secret', Buffer.alloc(12, 1));
    expect(h).toMatch(/^\$7\$101\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]{88}$/);
  });

  it('devices log in with their credentials, see only their own topics, and are refused once revoked', async () => {
    const token = async () => (await admin.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, {})).token;
    const a = await SimDevice.create(url, await token(), 'mosq-a');
    const b = await SimDevice.create(url, await token(), 'mosq-b');
    broker.kill('SIGHUP'); // reload the password file with the new devices
    await waitFor(async () => {
      try {
        await a.connect();
        return true;
      } catch {
        return false;
      }
    }, 'device a accepted');
    await b.connect();
    a.auto = {};
    await a.subscribe();
    // a subscribes to b's deploy topic: Mosquitto's ACL keeps b's messages from reaching a
    await a.subscribe([deviceTopic(b.id, 'deploy')]).catch(() => undefined);
    await b.subscribe();
    const art = await admin.upload<{ sha256: string }>(HTTP_PATHS.artifacts, Buffer.from('mosq model'));
    await admin.post<ModelVersion>(HTTP_PATHS.models, { name: 'mq', version: '1.0.0', sha256: art.sha256 });
    const dep = await admin.post<Deployment>(HTTP_PATHS.deployments, {
      model: 'mq',
      version: '1.0.0',
      target: { devices: ['mosq-b'] },
    });
    await waitFor(() => b.latestDesired(), 'b receives its desired state');
    await new Promise((r) => setTimeout(r, 300));
    expect(a.desired.filter((m) => m.device_id === b.id)).toHaveLength(0);
    expect(dep.devices).toHaveLength(1);
    // a publishing as b is dropped by the broker: b's presence stays online
    await a
      .client!.publishAsync(
        deviceTopic(b.id, 'status'),
        encodeMessage('status', { device_id: b.id, state: 'offline' }),
        { qos: 1 },
      )
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    expect((await admin.get<{ status: string }>(HTTP_PATHS.device(b.id))).status).toBe('online');
    // revoke a: the password file no longer has it; after reload it cannot log in
    await admin.post(HTTP_PATHS.revokeDevice(a.id));
    broker.kill('SIGHUP');
    // Mosquitto 2 re-checks connected clients on reload: the revoked one is dropped
    await waitFor(() => !a.client!.connected, 'revoked device disconnected on reload');
    await a.close();
    await waitFor(async () => {
      const again = new SimDevice(url, a.enrollment);
      try {
        await again.connect();
        await again.close();
        return false;
      } catch (e) {
        return /Not authorized|Bad username/i.test((e as Error).message);
      }
    }, 'revoked device refused by mosquitto');
    await b.close();
  });
});
