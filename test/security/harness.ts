/**
 * Real components for the attack tests of test/security/: a control plane over SQLite (default)
 * or PostgreSQL (a unique schema per cloud), its embedded broker, and enrolled devices that
 * speak raw MQTT. PostgreSQL missing → the PostgreSQL cases skip with the reason (fail under CI).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildControlPlane, CloudClient, type ControlPlane, type ControlPlaneOptions } from '../../src/cloud/index.ts';
import { HTTP_PATHS, type EnrollTokenResponse } from '../../src/protocol/index.ts';
import { dropSchema, PG_URL, postgresAvailable, uniqueSchema } from '../cloud/services.ts';
import { SimDevice, waitFor } from '../cloud/sim-device.ts';
import { freePort, MOSQUITTO_BIN } from '../edge/brokers.ts';

export type DbKind = 'sqlite' | 'postgres';

const pgReason = await postgresAvailable();
if (pgReason && process.env.CI === 'true') throw new Error(`required service missing under CI: ${pgReason}`);
if (pgReason) console.warn(`[skip] PostgreSQL cases: ${pgReason}`);

/** The databases to attack: SQLite always, PostgreSQL with its skip reason (null = available). */
export const DATABASES: { kind: DbKind; skip: string | null }[] = [
  { kind: 'sqlite', skip: null },
  { kind: 'postgres', skip: pgReason },
];

export interface Cloud {
  cp: ControlPlane;
  url: string;
  admin: CloudClient;
  dataDir: string;
  schema: string | null;
  devices: SimDevice[];
  /** A new enrolled device, connected to the broker. */
  device(name: string, tags?: Record<string, string>): Promise<SimDevice>;
  /** Close; `keep` leaves data dir and schema for a restart. */
  close(keep?: boolean): Promise<void>;
}

export async function startCloud(
  db: DbKind,
  over: Partial<ControlPlaneOptions> & { reuse?: { dataDir: string; schema: string | null } } = {},
): Promise<Cloud> {
  const dataDir = over.reuse?.dataDir ?? mkdtempSync(join(tmpdir(), 'verge-sec-'));
  const schema = db === 'postgres' ? (over.reuse?.schema ?? uniqueSchema()) : null;
  const cp = await buildControlPlane({
    dataDir,
    db: db === 'postgres' ? PG_URL : undefined,
    pgSchema: schema ?? undefined,
    tickMs: 100,
    ...over,
  });
  const { url } = await cp.start({ port: 0 });
  const admin = new CloudClient({ url, apiKey: cp.adminKey });
  const devices: SimDevice[] = [];
  const cloud: Cloud = {
    cp,
    url,
    admin,
    dataDir,
    schema,
    devices,
    async device(name, tags = {}) {
      const { token } = await admin.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, { tags });
      const d = await SimDevice.create(url, token, name);
      devices.push(d);
      await d.connect();
      await d.subscribe();
      return d;
    },
    async close(keep = false) {
      for (const d of devices) await d.close().catch(() => undefined);
      await cp.close();
      if (!keep) {
        if (schema) await dropSchema(schema);
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
  return cloud;
}

/** Value of one Prometheus series of the cloud's registry (0 when absent). */
export async function metricValue(
  cp: ControlPlane,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const m = cp.metrics.registry.getSingleMetric(name);
  if (!m) return 0;
  const v = (await m.get()).values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v?.value ?? 0;
}

/**
 * A control plane over SQLite behind a private Mosquitto (free port) whose whole security
 * configuration is what the control plane generated (`verge.conf` in its auth directory).
 */
export interface MosquittoCloud {
  dir: string;
  broker: ChildProcess;
  brokerUrl: string;
  cp: ControlPlane;
  url: string;
  admin: CloudClient;
  /** Enroll a device and make the broker reload its password file (the device is not connected). */
  enroll(name: string): Promise<SimDevice>;
  close(): Promise<void>;
}

export async function startMosquittoCloud(prefix: string, instanceId = 'replica-a'): Promise<MosquittoCloud> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const port = await freePort();
  const brokerUrl = `mqtt://127.0.0.1:${port}`;
  const cp = await buildControlPlane({
    dataDir: join(dir, 'data'),
    broker: brokerUrl,
    mosquittoAuthDir: join(dir, 'auth'),
    instanceId,
    tickMs: 100,
  });
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    [`listener ${port} 127.0.0.1`, 'persistence false', 'user root', ''].join('\n') +
      readFileSync(join(dir, 'auth', 'verge.conf'), 'utf8'),
  );
  const broker = spawn(MOSQUITTO_BIN!, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  const url = (await waitFor(() => cp.start({ port: 0 }).catch(() => null), 'control plane connected', 30_000)).url;
  const admin = new CloudClient({ url, apiKey: cp.adminKey });
  return {
    dir,
    broker,
    brokerUrl,
    cp,
    url,
    admin,
    async enroll(name) {
      const { token } = await admin.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, {});
      const d = await SimDevice.create(url, token, name);
      broker.kill('SIGHUP'); // reload the password file with the new device
      return d;
    },
    async close() {
      await cp.close();
      broker.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { telemetryRecord } from '../cloud/sim-device.ts';
