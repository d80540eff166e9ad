/**
 * Model confidentiality (issue 14, "also deliver"): a model published with `--encrypt` is stored
 * and cached as AES-256-GCM ciphertext; its content key reaches only the devices it is deployed
 * to, wrapped to each one's X25519 key; the agent decrypts into memory only. Attacked here on a
 * real control plane (SQLite, embedded broker) and real agents: the artifact stolen from the
 * cloud's store and from the agent's cache, an enrolled device that was not targeted asking for
 * the key (and holding the target's wrapped key), and the agent's whole data dir searched for the
 * model's weights.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import publish from '../../src/cli/actions/model-publish.ts';
import { EdgeAgent } from '../../src/edge/agent.ts';
import { AgentStore } from '../../src/edge/agent-store.ts';
import { enroll } from '../../src/edge/enrollment.ts';
import { decodeModel } from '../../src/onnx/index.ts';
import {
  decryptArtifact,
  encryptArtifact,
  generateDeviceEncryptionKey,
  HTTP_PATHS,
  unwrapArtifactKey,
  WrappedArtifactKey,
  type ModelVersion,
} from '../../src/protocol/index.ts';
import { tinyModelBytes } from '../edge/models.ts';
import { agentOptions, predict, startAgent, TestCloud } from '../e2e/harness.ts';

const SCALE = 7;
/** The model's weights as they lie in the ONNX file: what a thief is after. */
const plain = Buffer.from(tinyModelBytes(SCALE));
const weights = Buffer.from(
  new Float32Array(Array.from({ length: 16 }, (_, i) => ((i % 10) + 1) * SCALE * 1e-3)).buffer,
);
/** What the model answers for an all-0.5 image: 0.5 × 784 × w[j]. */
const expected = Array.from({ length: 10 }, (_, j) => 0.5 * 784 * (j + 1) * SCALE * 1e-3);

/** Every regular file under `dir`. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : [],
  );
}

describe('confidential models', () => {
  let cloud: TestCloud;
  let target: EdgeAgent;
  let other: EdgeAgent;
  let mv: ModelVersion;
  let sha: string;
  const tmp = mkdtempSync(join(tmpdir(), 'verge-confidential-'));

  beforeAll(async () => {
    expect(plain.includes(weights)).toBe(true); // the search below looks for something that is there in the clear
    cloud = await TestCloud.start();
    target = await startAgent(cloud, 'conf-target');
    other = await startAgent(cloud, 'conf-other');
    const file = join(tmp, 'secret.onnx');
    writeFileSync(file, plain);
    // what `verge model publish secret.onnx --name secret --version 1.0.0 --encrypt --json` runs
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
    try {
      await publish(file, {
        name: 'secret',
        version: '1.0.0',
        variant: 'fp32',
        metric: {},
        encrypt: true,
        json: true,
        cloud: cloud.url,
        apiKey: cloud.cp.adminKey,
      });
    } finally {
      process.stdout.write = write;
    }
    mv = JSON.parse(out.join('')) as ModelVersion;
    sha = mv.variants[0]!.sha256;
    const dep = await cloud.deploy({ model: 'secret', version: '1.0.0', target: { devices: [target.deviceId] } });
    await cloud.waitDeployment(dep.id, ['succeeded'], 60_000);
  }, 120_000);

  afterAll(async () => {
    await target?.stop().catch(() => undefined);
    await other?.stop().catch(() => undefined);
    await cloud?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('a targeted device serves the model and predicts correctly', async () => {
    const r = await predict(target, 'secret');
    expect(r.status).toBe(200);
    const y = r.body.outputs.output.data as number[];
    y.forEach((v, j) => expect(v).toBeCloseTo(expected[j]!, 3));
  });

  it('a stolen artifact (cloud store or agent cache) holds no model and opens with no other key', () => {
    const stored = readFileSync(join(cloud.dataDir, 'artifacts', sha.slice(0, 2), sha));
    const cached = readFileSync(target.store.artifactPath(sha));
    for (const stolen of [stored, cached]) {
      expect(createHash('sha256').update(stolen).digest('hex')).toBe(sha);
      expect(stolen.includes(weights)).toBe(false);
      expect(() => decodeModel(stolen, 'stolen artifact')).toThrow();
      expect(() => decryptArtifact(stolen, randomBytes(32))).toThrow(/does not open/);
    }
    expect(mv.variants[0]!.encryption).toBe('aes-256-gcm');
  });

  it('an enrolled device that was not targeted gets no key, and cannot open the target’s', async () => {
    const auth = (a: EdgeAgent) => ({
      authorization: `Basic ${Buffer.from(`${a.identity.device_id}:${a.identity.password}`).toString('base64')}`,
    });
    const refused = await fetch(cloud.url + HTTP_PATHS.artifactKey(sha), { headers: auth(other) });
    expect(refused.status).toBe(404);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('E_NOT_FOUND');
    // nor the ciphertext itself
    expect((await fetch(cloud.url + HTTP_PATHS.artifact(sha), { headers: auth(other) })).status).toBe(404);
    // the targeted device is given its key, wrapped to it alone
    const granted = await fetch(cloud.url + HTTP_PATHS.artifactKey(sha), { headers: auth(target) });
    expect(granted.status).toBe(200);
    const w = WrappedArtifactKey.parse(await granted.json());
    expect(w.device_id).toBe(target.deviceId);
    // the other device holding the target's wrapped key (copied off the wire or the target) cannot open it
    expect(() =>
      unwrapArtifactKey(w, other.identity.encryption_key!, { sha256: sha, deviceId: target.deviceId }),
    ).toThrow(/not wrapped for this device/);
    expect(() =>
      unwrapArtifactKey(w, other.identity.encryption_key!, { sha256: sha, deviceId: other.deviceId }),
    ).toThrow(/not wrapped for this device/);
    // while the target's own key does, and opens the artifact
    const key = unwrapArtifactKey(w, target.identity.encryption_key!, { sha256: sha, deviceId: target.deviceId });
    expect(decryptArtifact(readFileSync(target.store.artifactPath(sha)), key).equals(plain)).toBe(true);
  });

  it('a stolen device password cannot replace the key content keys are wrapped to; a wrong content key is refused at publish', async () => {
    const auth = `Basic ${Buffer.from(`${other.identity.device_id}:${other.identity.password}`).toString('base64')}`;
    const res = await fetch(cloud.url + HTTP_PATHS.deviceEncryptionKey, {
      method: 'PUT',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ public_key: generateDeviceEncryptionKey().publicKey }),
    });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('E_CONFLICT');
    const sealed = encryptArtifact(plain);
    const a = await cloud.admin.upload<{ sha256: string }>(HTTP_PATHS.artifacts, sealed.bytes);
    await expect(
      cloud.admin.post(HTTP_PATHS.models, {
        name: 'secret',
        version: '2.0.0',
        sha256: a.sha256,
        encryption_key: randomBytes(32).toString('base64'),
      }),
    ).rejects.toThrow(/does not open/);
  });

  it('an agent enrolled before it had an encryption key registers one and serves the model', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'verge-confidential-legacy-'));
    try {
      // enrolled as an older agent did: no encryption_public_key in the request, none in agent.db
      const profile = agentOptions(dataDir).profile!;
      const res = await enroll(cloud.url, await cloud.token(), 'conf-legacy', profile);
      const store = new AgentStore(dataDir);
      store.saveIdentity({
        device_id: res.device_id,
        name: res.name,
        password: res.credentials.password,
        mqtt_url: res.mqtt_url,
        cloud_url: cloud.url,
        signing_key: res.signing_key,
        tags: res.tags,
        enrolled_at: Date.now(),
      });
      store.close();
      const legacy = await EdgeAgent.start(agentOptions(dataDir, { cloudUrl: cloud.url }));
      try {
        const dep = await cloud.deploy({ model: 'secret', version: '1.0.0', target: { devices: [legacy.deviceId] } });
        await cloud.waitDeployment(dep.id, ['succeeded'], 60_000);
        const r = await predict(legacy, 'secret');
        expect(r.status).toBe(200);
        (r.body.outputs.output.data as number[]).forEach((v, j) => expect(v).toBeCloseTo(expected[j]!, 3));
      } finally {
        await legacy.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);

  it('no plaintext model is written under the agent’s data dir; a restart offline serves it from the ciphertext', async () => {
    const dataDir = target.store.dataDir;
    await target.stop();
    await cloud.down(); // offline: the restart must do with what the data dir holds
    for (const f of filesUnder(dataDir)) expect(readFileSync(f).includes(weights), f).toBe(false);
    expect(filesUnder(dataDir).some((f) => statSync(f).size >= plain.length)).toBe(true); // the cached ciphertext is there
    target = await EdgeAgent.start(agentOptions(dataDir, { name: 'conf-target' }));
    const r = await predict(target, 'secret');
    expect(r.status).toBe(200);
    (r.body.outputs.output.data as number[]).forEach((v, j) => expect(v).toBeCloseTo(expected[j]!, 3));
    for (const f of filesUnder(dataDir)) expect(readFileSync(f).includes(weights), f).toBe(false);
  }, 60_000);
});
