/**
 * Finding 10 (part): `agent.db` holds the device's broker password in plain text and was 0644,
 * so any local user could read it and log in as the device. Read here as the attacker would: the
 * file modes of the real store after an identity was saved (and of an existing world-readable one).
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { AgentStore } from '../../src/edge/agent-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'verge-agent-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const identity = {
  device_id: 'dev-0123456789ab',
  name: 'secrets',
  password: 'pw-secret-value-1234567890',
  mqtt_url: 'mqtt://127.0.0.1:1',
  cloud_url: 'http://127.0.0.1:1',
  signing_key: { key_id: 'k', algorithm: 'ed25519', public_key_pem: 'x' },
  tags: {},
  enrolled_at: 1,
} as never;

const otherBits = (f: string) => statSync(f).mode & 0o077;

it('keeps agent.db and its WAL files readable by the owner only, and repairs an older world-readable one', () => {
  const db = join(dir, 'agent.db');
  const store = new AgentStore(dir);
  store.saveIdentity(identity);
  for (const f of [db, `${db}-wal`, `${db}-shm`]) expect(otherBits(f)).toBe(0);
  // the password is in there: that is why the mode matters
  expect(
    Buffer.concat([readFileSync(db), readFileSync(`${db}-wal`)]).includes(Buffer.from('pw-secret-value-1234567890')),
  ).toBe(true);
  store.close();
  // an agent data dir written by an older version
  chmodSync(db, 0o644);
  const again = new AgentStore(dir);
  expect(otherBits(db)).toBe(0);
  again.close();
});
