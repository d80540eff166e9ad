/**
 * Finding 8, external broker: the control plane acknowledged a device message to Mosquitto on
 * receipt and then held it in its ingest buffer, so a kill -9 of the control plane lost what that
 * buffer held — thousands of records while the database was slow. Attacked here: a real
 * `verge cloud --broker` process (PostgreSQL, persistent broker session by --instance-id) behind a
 * private Mosquitto takes a flood of QoS 1 telemetry from enrolled devices (64 messages in flight
 * each, as agents send); the test holds a lock on the telemetry table for two seconds (a slow
 * database), kills the control plane with SIGKILL while it waits, and starts it again. Every
 * message Mosquitto acknowledged to a device must end up in the database. (A kill -9 of Mosquitto
 * itself loses what it held since its last persistence save: docs/security.md.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { CloudClient } from '../../src/cloud/index.ts';
import { dropSchema, PG_URL, postgresAvailable, uniqueSchema } from '../cloud/services.ts';
import { freePort, MOSQUITTO_BIN } from '../edge/brokers.ts';
import { sleep, waitUntil } from '../e2e/harness.ts';
import { connectFloodDevices, startTelemetryFlood } from './telemetry-flood.ts';

const DEVICES = 8;
const WINDOW = 64; // OUTBOX_WINDOW of the agent
const FLOOD_MS = 2000;
/** How long the database stalls before the kill. */
const STALL_MS = 2000;
const ROOT = join(import.meta.dirname, '../..');

const skip = MOSQUITTO_BIN ? await postgresAvailable() : 'mosquitto is not installed';
if (skip && process.env.CI === 'true') throw new Error(`required service missing under CI: ${skip}`);

const dir = mkdtempSync(join(tmpdir(), 'verge-ext-broker-kill-'));
const schema = uniqueSchema();
const procs: ChildProcess[] = [];
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  if (!skip) await dropSchema(schema);
});

async function startCloud(args: string[], url: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ['bin/verge.js', 'cloud', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  procs.push(proc);
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitUntil(
    async () => (await fetch(`${url}/healthz`).catch(() => null))?.ok === true,
    60_000,
    `verge cloud to start (${stderr})`,
  );
  return proc;
}

async function storedIds(): Promise<Set<string>> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    const rows = await c.query<{ id: string }>(
      `SELECT id FROM "${schema}".telemetry UNION ALL SELECT id FROM "${schema}".telemetry_dead_letter`,
    );
    return new Set(rows.rows.map((r) => r.id));
  } finally {
    await c.end();
  }
}

it.skipIf(skip !== null)(
  `kill -9 of the control plane behind Mosquitto loses no acknowledged message${skip ? ` (skipped: ${skip})` : ''}`,
  async () => {
    const brokerPort = await freePort();
    const httpPort = await freePort();
    writeFileSync(
      join(dir, 'mosquitto.conf'),
      [
        `listener ${brokerPort} 127.0.0.1`,
        'allow_anonymous true',
        'persistence false',
        'max_queued_messages 0',
        'user root',
        '',
      ].join('\n'),
    );
    const broker = spawn(MOSQUITTO_BIN!, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
    procs.push(broker);
    const brokerUrl = `mqtt://127.0.0.1:${brokerPort}`;
    await waitUntil(
      async () =>
        !!(await mqtt.connectAsync(brokerUrl, { reconnectPeriod: 0 }).then(
          (c) => c.endAsync().then(() => true),
          () => false,
        )),
      30_000,
      'mosquitto to listen',
    );
    const url = `http://127.0.0.1:${httpPort}`;
    const args = [
      '--db',
      PG_URL,
      '--pg-schema',
      schema,
      '--data-dir',
      join(dir, 'data'),
      '--port',
      String(httpPort),
      '--broker',
      brokerUrl,
      '--instance-id',
      'kill-test',
    ];
    let proc = await startCloud(args, url);
    const admin = new CloudClient({ url, apiKey: readFileSync(join(dir, 'data', 'admin.key'), 'utf8').trim() });

    const devices = await connectFloodDevices(admin, url, DEVICES, 'ext-flood', brokerUrl);
    const flood = startTelemetryFlood(devices, WINDOW);
    await sleep(FLOOD_MS);
    // a slow database: the control plane's inserts wait on this lock while the flood goes on
    const locker = new pg.Client({ connectionString: PG_URL });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE "${schema}".telemetry IN ACCESS EXCLUSIVE MODE`);
    await sleep(STALL_MS);
    proc.kill('SIGKILL');
    await new Promise((r) => proc.once('exit', r));
    await locker.query('ROLLBACK');
    await locker.end();
    await flood.stop();
    const { acked } = flood;
    const sent = flood.sent();
    for (const d of devices) d.client.end(true);
    const storedAtKill = (await storedIds()).size;
    expect(acked.length, `acked ${acked.length} of ${sent} sent`).toBeGreaterThan(500);

    // back on the same persistent session: Mosquitto sends what the killed process never acknowledged
    proc = await startCloud(args, url);
    let lost: string[] = acked;
    await waitUntil(
      async () => {
        const stored = await storedIds();
        lost = acked.filter((id) => !stored.has(id));
        return lost.length === 0;
      },
      30_000,
      'every acknowledged record stored',
    ).catch(() => undefined);
    proc.kill('SIGTERM');
    console.log(
      `external broker, control plane killed: ${sent} sent, ${acked.length} acknowledged by Mosquitto, ${storedAtKill} stored at the kill, ${lost.length} lost after the restart`,
    );
    expect(lost, `${lost.length} of ${acked.length} acknowledged records lost (${sent} sent)`).toEqual([]);
  },
  240_000,
);
