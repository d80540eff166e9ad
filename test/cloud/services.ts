/**
 * Real services for cloud tests: PostgreSQL at 127.0.0.1:5432 (database `test`, trust auth) and
 * Mosquitto at 127.0.0.1:1883. Absent → tests skip with the reason; under CI=true they fail.
 */
import { connect } from 'node:net';
import pg from 'pg';

export const PG_URL = process.env.VERGE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MOSQUITTO_URL = process.env.VERGE_TEST_MQTT_URL ?? 'mqtt://127.0.0.1:1883';

function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 1000 }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
    s.on('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

export async function postgresAvailable(): Promise<string | null> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return null;
  } catch (e) {
    return `PostgreSQL not reachable at ${PG_URL}: ${(e as Error).message}`;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function mosquittoAvailable(): Promise<string | null> {
  const u = new URL(MOSQUITTO_URL);
  return (await tcpOpen(u.hostname, Number(u.port || 1883))) ? null : `MQTT broker not reachable at ${MOSQUITTO_URL}`;
}

/** Skip reason for a test needing the services, or null. Under CI=true a missing service throws. */
export async function externalServicesSkipReason(): Promise<string | null> {
  const reasons = [await postgresAvailable(), await mosquittoAvailable()].filter((r): r is string => r !== null);
  if (reasons.length === 0) return null;
  const reason = reasons.join('; ');
  if (process.env.CI === 'true') throw new Error(`required service missing under CI: ${reason}`);
  console.warn(`[skip] ${reason}`);
  return reason;
}

export function uniqueSchema(): string {
  return `verge_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

export async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await c.end();
  }
}
