/**
 * Tests that play FL devices by hand over the real HTTP API: enrolled agents without local data
 * (they take no FL task themselves), each with a registered ed25519 upload key; `upload` sends a
 * signed update for the round with the token the device was given.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { EdgeAgent } from '../../src/edge/agent.ts';
import { deviceAuthHeader } from '../../src/edge/enrollment.ts';
import { encodeUpdate, FL_HEADERS, FL_PATHS, flUploadSignaturePayload, HTTP_PATHS } from '../../src/protocol/index.ts';
import { startAgent, waitUntil, type TestCloud } from '../e2e/harness.ts';

export interface HandDevice {
  agent: EdgeAgent;
  id: string;
  key: KeyObject;
  auth: string;
}

export async function handDevices(cloud: TestCloud, names: string[]): Promise<HandDevice[]> {
  const out: HandDevice[] = [];
  for (const name of names) {
    const agent = await startAgent(cloud, name);
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const auth = deviceAuthHeader(agent.deviceId, agent.identity.password);
    const res = await fetch(cloud.url + FL_PATHS.deviceKey, {
      method: 'PUT',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ public_key_pem: publicKey.export({ type: 'spki', format: 'pem' }) }),
    });
    if (res.status !== 200) throw new Error(`key registration: ${res.status} ${await res.text()}`);
    out.push({ agent, id: agent.deviceId, key: privateKey, auth });
  }
  await waitUntil(
    async () =>
      (await cloud.admin.get<{ devices: { status: string }[] }>(HTTP_PATHS.devices)).devices.filter(
        (d) => d.status === 'online',
      ).length >= names.length,
    60_000,
    'devices online',
  );
  return out;
}

/** sha256 hex of bytes. */
export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Sign and POST bytes for a round (an update, or a secure-aggregation message at `path`). */
export async function signedPost(
  cloud: TestCloud,
  d: HandDevice,
  o: { job: string; round: number; token: string; path: string; body: Uint8Array; examples?: number },
): Promise<{ status: number; body: { error?: { code: string; message: string } } & Record<string, unknown> }> {
  const metrics = '{}';
  const examples = o.examples ?? 10;
  const payload = flUploadSignaturePayload({
    job: o.job,
    round: o.round,
    device: d.id,
    token: o.token,
    bodySha256: sha256(o.body),
    examples,
    metricsJson: metrics,
  });
  const res = await fetch(cloud.url + o.path, {
    method: 'POST',
    headers: {
      authorization: d.auth,
      'content-type': 'application/octet-stream',
      [FL_HEADERS.token]: o.token,
      [FL_HEADERS.examples]: String(examples),
      [FL_HEADERS.metrics]: metrics,
      [FL_HEADERS.signature]: sign(null, payload, d.key).toString('base64'),
    },
    body: o.body,
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}

export const fp32Update = (values: Float32Array): Uint8Array =>
  encodeUpdate({ codec: 'fp32', length: values.length, values });
