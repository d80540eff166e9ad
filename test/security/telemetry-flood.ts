/**
 * A telemetry flood as agents send it: per device, `window` QoS 1 publishes in flight at once, each
 * a new record (its own id). Records whose PUBACK arrived are listed in `acked`: what the broker
 * promised to keep. Used by the kill -9 tests (broker-kill, external-broker-kill).
 */
import mqtt from 'mqtt';
import type { CloudClient } from '../../src/cloud/index.ts';
import { enroll } from '../../src/edge/enrollment.ts';
import {
  HTTP_PATHS,
  deviceTopic,
  emptyHistogram,
  encodeMessage,
  type EnrollTokenResponse,
} from '../../src/protocol/index.ts';
import { PROFILE_X64 } from '../cloud/sim-device.ts';

const mqttConnect = mqtt.connectAsync;

export interface TelemetryFlood {
  /** Ids of the records whose PUBACK a device received. */
  acked: string[];
  sent(): number;
  /** Stop publishing and wait for the publishers (a publish whose connection died counts as never acknowledged). */
  stop(): Promise<void>;
}

export function startTelemetryFlood(
  devices: { client: mqtt.MqttClient; deviceId: string }[],
  window: number,
): TelemetryFlood {
  const acked: string[] = [];
  let sent = 0;
  let stopped = false;
  const publisher = async (c: mqtt.MqttClient, deviceId: string) => {
    const topic = deviceTopic(deviceId, 'telemetry');
    while (!stopped && c.connected) {
      const payload = encodeMessage('telemetry', {
        device_id: deviceId,
        window_start: Date.now() - 1000,
        window_end: Date.now(),
        model: { name: 'flood', version: '1.0.0', variant: 'fp32' },
        inferences: 1,
        errors: 0,
        latency_ms: emptyHistogram(),
      });
      sent++;
      try {
        await c.publishAsync(topic, payload, { qos: 1 });
      } catch {
        return; // the broker is gone: this one was never acknowledged
      }
      acked.push((JSON.parse(payload.toString()) as { id: string }).id);
    }
  };
  const running = devices.flatMap((d) => Array.from({ length: window }, () => publisher(d.client, d.deviceId)));
  return {
    acked,
    sent: () => sent,
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}

/**
 * Enroll `n` devices over the cloud's HTTP API and connect each to the broker as the device:
 * with its credentials to the broker enrollment named, or anonymously to `brokerUrl` (a broker
 * that authenticates nobody).
 */
export async function connectFloodDevices(
  admin: CloudClient,
  cloudUrl: string,
  n: number,
  prefix: string,
  brokerUrl?: string,
): Promise<{ client: mqtt.MqttClient; deviceId: string }[]> {
  const out: { client: mqtt.MqttClient; deviceId: string }[] = [];
  for (let i = 0; i < n; i++) {
    const { token } = await admin.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, {});
    const e = await enroll(cloudUrl, token, `${prefix}-${i}`, PROFILE_X64);
    const login = brokerUrl ? {} : { username: e.credentials.username, password: e.credentials.password };
    const client = await mqttConnect(brokerUrl ?? e.mqtt_url, {
      clientId: e.device_id,
      ...login,
      reconnectPeriod: 0,
      clean: true,
    });
    client.on('error', () => undefined);
    out.push({ client, deviceId: e.device_id });
  }
  return out;
}
