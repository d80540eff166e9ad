/**
 * Finding 2 (high): with an external Mosquitto, an enrolled device could take over the control
 * plane's MQTT session (and knock any device offline) by connecting with its client id. Attacked
 * here against a real Mosquitto (a private one on a free port) configured only with what the
 * control plane generates (`verge.conf` in its auth directory), over SQLite.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyHistogram, encodeMessage } from '../../src/protocol/index.ts';
import { waitFor } from '../cloud/sim-device.ts';
import { mosquittoSkipReason } from '../edge/brokers.ts';
import { metricValue, startMosquittoCloud, type MosquittoCloud } from './harness.ts';

const skip = mosquittoSkipReason();
if (skip) console.warn(`[skip] ${skip}`);

describe.skipIf(skip !== undefined)('control-plane session takeover on an external Mosquitto', () => {
  let m: MosquittoCloud;
  const attackers: MqttClient[] = [];

  beforeAll(async () => {
    m = await startMosquittoCloud('verge-takeover-');
  }, 60_000);

  afterAll(async () => {
    for (const a of attackers) a.end(true);
    await m?.close();
  });

  it('writes use_username_as_clientid into the broker config and gives the control plane its own login', () => {
    const { cp, dir } = m;
    const conf = readFileSync(join(dir, 'auth', 'verge.conf'), 'utf8');
    expect(conf).toMatch(/^use_username_as_clientid true$/m);
    expect(conf).toMatch(/^allow_anonymous false$/m);
    expect(cp.mqttClientId).toMatch(/^verge-cloud-replica-a$/);
    expect(readFileSync(join(dir, 'auth', 'passwd'), 'utf8')).toMatch(/^verge-cloud-replica-a:\$7\$/m);
  });

  it("a device connecting with the control plane's or another device's client id takes over neither", async () => {
    const { cp, brokerUrl } = m;
    const attacker = await m.enroll('takeover-attacker');
    const victim = await m.enroll('takeover-victim');
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
