/**
 * Finding 7 (medium): the signing key could not be rotated — deleting it silently created a new
 * one and every agent then rejected every publish; agents never refreshed keys. Attacked here on
 * the real control plane (embedded broker, SQLite) with real agents serving real models:
 * - a fleet keeps deploying across `verge keys rotate` (agents follow the endorsement chain;
 *   an agent enrolled after the rotation gets versions published before it);
 * - an artifact signed with a revoked key (an attacker holding a stolen old key) is refused;
 * - a forged key set (keys not endorsed by a trusted key, forged revocations) adds no trust;
 * - a control plane whose active key file is gone refuses to start unless --init.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildControlPlane } from '../../src/cloud/index.ts';
import { SigningKeyring } from '../../src/cloud/signing-keys.ts';
import type { EdgeAgent } from '../../src/edge/agent.ts';
import {
  applyKeySet,
  HTTP_PATHS,
  initialKeyTrust,
  keyEndorsementPayload,
  keyRevocationPayload,
  publicKeyId,
  signArtifact,
  type ModelsResponse,
  type SigningKeySet,
} from '../../src/protocol/index.ts';
import { tinyModelBytes } from '../edge/models.ts';
import { predict, startAgent, TestCloud } from '../e2e/harness.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

async function signedBy(cloud: TestCloud, name: string, version: string): Promise<string> {
  const res = await cloud.admin.get<ModelsResponse>(HTTP_PATHS.model(name));
  return res.models[0]!.versions.find((v) => v.version === version)!.variants[0]!.key_id;
}

describe('signing key rotation (finding 7)', () => {
  it('a fleet keeps deploying across a rotation; an artifact signed with the revoked key is refused', async () => {
    const cloud = await TestCloud.start();
    const agents: EdgeAgent[] = [];
    cleanup.push(async () => {
      for (const a of agents) await a.stop();
      await cloud.close();
    });
    const early = await startAgent(cloud, 'rot-early');
    agents.push(early);
    await cloud.publish('rot-model', '1.0.0', tinyModelBytes(1));
    await cloud.publish('rot-other', '1.0.0', tinyModelBytes(4));
    const first = await cloud.deploy({ model: 'rot-model', version: '1.0.0', target: { devices: ['rot-early'] } });
    await cloud.waitDeployment(first.id, ['succeeded']);
    const oldKeyId = cloud.cp.signingKey.keyId;
    // what an attacker who stole the old key (a backup, a leaked volume) holds
    const stolen = readFileSync(join(cloud.dataDir, 'signing-key.pem'));

    const rotated = await cloud.admin.post<SigningKeySet>(HTTP_PATHS.rotateSigningKey, {});
    expect(rotated.active).not.toBe(oldKeyId);
    expect(rotated.keys.find((k) => k.key_id === rotated.active)!.endorsed_by?.key_id).toBe(oldKeyId);
    expect(cloud.cp.signingKey.keyId).toBe(rotated.active);
    // versions published before the rotation are signed again with the new key
    expect(await signedBy(cloud, 'rot-other', '1.0.0')).toBe(rotated.active);

    // the agent enrolled with the old key follows the chain; one enrolled now trusts only the new key
    const late = await startAgent(cloud, 'rot-late');
    agents.push(late);
    await cloud.publish('rot-model', '1.1.0', tinyModelBytes(2));
    const second = await cloud.deploy({
      model: 'rot-model',
      version: '1.1.0',
      target: { devices: ['rot-early', 'rot-late'] },
    });
    const ok = await cloud.waitDeployment(second.id, ['succeeded', 'failed']);
    expect(ok.state, JSON.stringify(ok.devices)).toBe('succeeded');
    const other = await cloud.deploy({ model: 'rot-other', version: '1.0.0', target: { devices: ['rot-late'] } });
    expect((await cloud.waitDeployment(other.id, ['succeeded', 'failed'])).state).toBe('succeeded');
    expect(early.keys.trust().keys[rotated.active]).toBeDefined();

    const revoked = await cloud.admin.delete<SigningKeySet>(HTTP_PATHS.signingKeyById(oldKeyId));
    expect(revoked.keys.find((k) => k.key_id === oldKeyId)!.revoked?.by).toBe(rotated.active);
    // the active key cannot be revoked
    await expect(cloud.admin.delete(HTTP_PATHS.signingKeyById(rotated.active))).rejects.toMatchObject({
      code: 'E_CONFLICT',
    });

    // the attack: a version whose signature is by the stolen, revoked key reaches the device
    const mv = await cloud.publish('rot-model', '1.2.0', tinyModelBytes(3));
    await cloud.cp.repos.db.run('UPDATE model_variants SET signature = ?, key_id = ? WHERE name = ? AND version = ?', [
      signArtifact(mv.variants[0]!.sha256, stolen.toString()),
      oldKeyId,
      'rot-model',
      '1.2.0',
    ]);
    const attack = await cloud.deploy({ model: 'rot-model', version: '1.2.0', target: { devices: ['rot-early'] } });
    const refused = await cloud.waitDeployment(attack.id, ['failed', 'succeeded']);
    expect(refused.devices[0]).toMatchObject({ state: 'rejected', error: { code: 'E_SIGNATURE' } });
    expect(refused.devices[0]!.error!.message).toMatch(/revoked/);
    expect(early.store.hasArtifact(mv.variants[0]!.sha256)).toBe(false);
    expect((await predict(early, 'rot-model')).body.model.version).toBe('1.1.0');
  }, 90_000);

  it('a forged key set adds no trust: unendorsed keys, wrong ids, forged revocations', () => {
    const k1 = generateKeyPairSync('ed25519');
    const pem = (k: { publicKey: { export(o: object): string | Buffer } }) =>
      k.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const id1 = publicKeyId(pem(k1));
    const trust = initialKeyTrust({ key_id: id1, public_key_pem: pem(k1) });
    const attacker = generateKeyPairSync('ed25519');
    const idA = publicKeyId(pem(attacker));
    const honest = generateKeyPairSync('ed25519');
    const idH = publicKeyId(pem(honest));
    const s = (payload: Uint8Array, k: typeof k1) => sign(null, payload, k.privateKey).toString('base64');
    const entry = { created_at: 1 };
    const forged = applyKeySet(trust, {
      seq: 9,
      keys: [
        // self-endorsed, and endorsed by the trusted key's id with the attacker's signature
        {
          ...entry,
          key_id: idA,
          public_key_pem: pem(attacker),
          endorsed_by: { key_id: id1, signature: s(keyEndorsementPayload(idA, pem(attacker)), attacker) },
        },
        // a real endorsement by k1, but listed under another id than the key's own
        {
          ...entry,
          key_id: idA,
          public_key_pem: pem(honest),
          endorsed_by: { key_id: id1, signature: s(keyEndorsementPayload(idA, pem(honest)), k1) },
        },
        // the trusted key "revoked" by an untrusted key, and by itself
        {
          ...entry,
          key_id: id1,
          public_key_pem: pem(k1),
          revoked: { by: idA, signature: s(keyRevocationPayload(id1), attacker) },
        },
        {
          ...entry,
          key_id: id1,
          public_key_pem: pem(k1),
          revoked: { by: id1, signature: s(keyRevocationPayload(id1), k1) },
        },
      ],
    });
    expect(Object.keys(forged.keys)).toEqual([id1]);
    expect(forged.revoked).toEqual([]);
    // the honest chain is followed (and a revoked key is never trusted again)
    const chain = applyKeySet(trust, {
      seq: 2,
      keys: [
        {
          ...entry,
          key_id: id1,
          public_key_pem: pem(k1),
          revoked: { by: idH, signature: s(keyRevocationPayload(id1), honest) },
        },
        {
          ...entry,
          key_id: idH,
          public_key_pem: pem(honest),
          endorsed_by: { key_id: id1, signature: s(keyEndorsementPayload(idH, pem(honest)), k1) },
        },
      ],
    });
    expect(Object.keys(chain.keys).sort()).toEqual([id1, idH].sort());
    expect(chain.revoked).toEqual([id1]);
    const again = applyKeySet(chain, {
      seq: 3,
      keys: [{ ...entry, key_id: id1, public_key_pem: pem(k1) }],
    });
    expect(again.revoked).toEqual([id1]);
  });

  it('a missing signing key is an error on start unless --init; replicas follow a rotation', async () => {
    const cloud = await TestCloud.start();
    cleanup.push(() => cloud.close());
    await cloud.publish('rot-keep', '1.0.0', tinyModelBytes(1));
    const rotated = await cloud.admin.post<SigningKeySet>(HTTP_PATHS.rotateSigningKey, {});
    // another replica on the same volume signs with the rotated key without a restart
    const replica = SigningKeyring.open(cloud.dataDir, { fleetExists: true });
    expect(replica.keyId).toBe(rotated.active);
    await cloud.down();

    // a restart keeps the rotated key
    await cloud.up();
    expect(cloud.cp.signingKey.keyId).toBe(rotated.active);
    await cloud.down();

    // the attack on availability: the key file is deleted (or lost with a volume)
    unlinkSync(join(cloud.dataDir, 'signing-keys', `${rotated.active}.pem`));
    await expect(buildControlPlane({ dataDir: cloud.dataDir })).rejects.toMatchObject({ code: 'E_FILE_NOT_FOUND' });
    const dir = mkdtempSync(join(tmpdir(), 'verge-keys-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));

    // --init: a new key, explicitly, not endorsed by the old one
    const cp = await buildControlPlane({ dataDir: cloud.dataDir, init: true });
    try {
      expect(cp.signingKey.keyId).not.toBe(rotated.active);
      const set = JSON.parse(readFileSync(join(cloud.dataDir, 'signing-keys.json'), 'utf8')) as SigningKeySet;
      expect(set.active).toBe(cp.signingKey.keyId);
      expect(set.keys.find((k) => k.key_id === set.active)!.endorsed_by).toBeUndefined();
    } finally {
      await cp.close();
    }

    // an older data dir (signing-key.pem, no key set) whose key was deleted: refused as well
    const legacy = await TestCloud.start();
    cleanup.push(() => legacy.close());
    await legacy.publish('rot-legacy', '1.0.0', tinyModelBytes(1));
    await legacy.down();
    unlinkSync(join(legacy.dataDir, 'signing-key.pem'));
    unlinkSync(join(legacy.dataDir, 'signing-keys.json'));
    await expect(buildControlPlane({ dataDir: legacy.dataDir })).rejects.toMatchObject({ code: 'E_FILE_NOT_FOUND' });
    // a fresh data dir still creates its first key without --init
    const fresh = await buildControlPlane({ dataDir: dir });
    expect(fresh.signingKey.keyId).toMatch(/^[0-9a-f]{16}$/);
    await fresh.close();
  }, 60_000);
});
