/**
 * Finding 2 (high): with an external Mosquitto, an enrolled device could take over the control
 * plane's MQTT session (and knock any device offline) by connecting with its client id. Attacked
 * here against a real Mosquitto (a private one on a free port) configured only with what the
 * control plane generates (`verge.conf` in its auth directory), over SQLite.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildControlPlane, CloudClient, type ControlPlane } from '../../src/cloud/index.ts';
import { emptyHistogram, encodeMessage, HTTP_PATHS, type EnrollTokenResponse } from '../../src/protocol/index.ts';
import { SimDevice, waitFor } from '../cloud/sim-device.ts';
import { freePort, MOSQUITTO_BIN, mosquittoSkipReason } from '../edge/brokers.ts';
import { metricValue } from './harness.ts';

const skip = mosquittoSkipReason();
if (skip) console.warn(`[skip] ${skip}`);

describe.skipIf(skip !== undefined)('control-plane session takeover on an external Mosquitto', () => {
  let dir: string;
  let broker: ChildProcess;
  let cp: ControlPlane;
  let url: string;
  let brokerUrl: string;
  const attackers: MqttClient[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'verge-takeover-'));
    const port = await freePort();
    brokerUrl = `mqtt://127.0.0.1:${port}`;
    cp = await buildControlPlane({
      dataDir: join(dir, 'data'),
      broker: brokerUrl,
      mosquittoAuthDir: join(dir, 'auth'),
      instanceId: 'replica-a',
      tickMs: 100,
    });
    // the broker's whole security configuration is what the control plane generated
    writeFileSync(
      join(dir, 'mosquitto.conf'),
      [`listener ${port} 127.0.0.1`, 'persistence false', 'user root', ''].join('\n') +
        readFileSync(join(dir, 'auth', 'verge.conf'), 'utf8'),
    );
    broker = spawn(MOSQUITTO_BIN!, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
    url = (await waitFor(() => cp.start({ port: 0 }).catch(() => null), 'control plane connected', 30_000)).url;
  }, 60_000);

  afterAll(async () => {
    for (const a of attackers) a.end(true);
    await cp?.close();
    broker?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes use_username_as_clientid into the broker config and gives the control plane its own login', () => {
    const conf = readFileSync(join(dir, 'auth', 'verge.conf'), 'utf8');
    expect(conf).toMatch(/^use_username_as_clientid true$/m);
    expect(conf).toMatch(/^allow_anonymous false$/m);
    expect(cp.mqttClientId).toMatch(/^verge-cloud-replica-a$/);
    expect(readFileSync(join(dir, 'auth', 'passwd'), 'utf8')).toMatch(/^verge-cloud-replica-a:\$7\$/m);
  });

  it("a device connecting with the control plane's or another device's client id takes over neither", async () => {
    const admin = new CloudClient({ url, apiKey: cp.adminKey });
    const token = async () => (await admin.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, {})).token;
    const attacker = await SimDevice.create(url, await token(), 'takeover-attacker');
    const victim = await SimDevice.create(url, await token(), 'takeover-victim');
    broker.kill('SIGHUP'); // reload the password file with the new devices
    await waitFor(
      () =>
        victim.connect().then(
          () => true,
          () => false,
        ),
      'victim accepted after reload',
    );
    let victimDropped = 0;
    victim.client!.on('close', () => victimDropped++);
    const before = await metricValue(cp, 'verge_broker_service_disconnects');

    // the attack: the attacker's own valid credentials, someone else's client id, reconnecting hard
    for (const clientId of [cp.mqttClientId, victim.id]) {
      const a = await mqtt.connectAsync(
        brokerUrl,
        {
          clientId,
          username: attacker.id,
          password: attacker.enrollment.credentials.password,
          reconnectPeriod: 200,
        },
        false,
      );
      a.on('error', () => undefined);
      attackers.push(a);
    }
    await new Promise((r) => setTimeout(r, 2000));
    expect(await metricValue(cp, 'verge_broker_service_disconnects')).toBe(before);
    expect(victimDropped).toBe(0);
    expect(victim.client!.connected).toBe(true);

    // and the control plane still hears the victim
    const h = emptyHistogram();
    h.counts[0] = 1;
    h.count = 1;
    const t = encodeMessage('telemetry', {
      device_id: victim.id,
      window_start: 1,
      window_end: Date.now(),
      model: { name: 'm', version: '1.0.0', variant: 'fp32' },
      inferences: 1,
      errors: 0,
      latency_ms: h,
    });
    await victim.publish('telemetry', {} as never, t);
    await waitFor(async () => {
      await cp.flush();
      return (await cp.repos.telemetry.totals()).messages === 1;
    }, 'victim telemetry stored');
    await victim.close();
    await attacker.close();
  }, 60_000);
});
