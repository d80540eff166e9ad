import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ArtifactRef as ArtifactRefSchema,
  CreateDeploymentRequest,
  EnrollResponse,
  MAX_DESIRED_MODELS,
  MAX_LOADED_MEMORY_POINTS,
  MAX_MODEL_VARIANTS,
  MAX_MQTT_PACKET_BYTES,
  PublishModelRequest,
  PROTOCOL_VERSION,
  decodeMessage,
  deviceMayPublish,
  deviceMaySubscribe,
  deviceTopic,
  emptyHistogram,
  encodeMessage,
  histogramQuantile,
  observeLatency,
  parseDeviceTopic,
  artifactSignaturePayload,
  artifactTrustProblem,
  initialKeyTrust,
  publicKeyId,
  publicKeyPemId,
  selectVariant,
  verifyEd25519,
  signArtifact,
  verifyArtifactSignature,
  type ArtifactRef,
} from '../../src/protocol/index.ts';

const profile = {
  arch: 'x64',
  platform: 'linux',
  cpu: { model: 'test', cores: 2 },
  memory_mb: 1024,
  precisions: ['fp32', 'int8'] as ('fp32' | 'int8')[],
  accelerators: [],
};

describe('topics and ACL rule', () => {
  it('round-trips device topics', () => {
    expect(deviceTopic('dev-abc', 'deploy')).toBe('verge/v1/dev/dev-abc/deploy');
    expect(parseDeviceTopic('verge/v1/dev/dev-abc/telemetry')).toEqual({ deviceId: 'dev-abc', verb: 'telemetry' });
    expect(parseDeviceTopic('verge/v1/dev/+/telemetry')).toBeNull();
    expect(parseDeviceTopic('verge/v1/dev/dev-abc/nope')).toBeNull();
    expect(parseDeviceTopic('verge/v1/dev/dev-abc/constructor')).toBeNull();
    expect(parseDeviceTopic('verge/v1/dev/dev-abc/__proto__')).toBeNull();
    expect(() => deviceTopic('a/b', 'deploy')).toThrow(/invalid device id/);
  });
  it('lets a device use only its own topics in the right direction', () => {
    expect(deviceMayPublish('dev-a', 'verge/v1/dev/dev-a/telemetry')).toBe(true);
    expect(deviceMayPublish('dev-a', 'verge/v1/dev/dev-a/deploy')).toBe(false);
    expect(deviceMayPublish('dev-a', 'verge/v1/dev/dev-b/telemetry')).toBe(false);
    expect(deviceMaySubscribe('dev-a', 'verge/v1/dev/dev-a/deploy')).toBe(true);
    expect(deviceMaySubscribe('dev-a', 'verge/v1/dev/dev-b/deploy')).toBe(false);
    expect(deviceMaySubscribe('dev-a', 'verge/v1/dev/+/deploy')).toBe(false);
    expect(deviceMaySubscribe('dev-a', 'verge/#')).toBe(false);
    expect(deviceMaySubscribe('dev-a', 'verge/v1/dev/dev-a/telemetry')).toBe(false);
  });
});

describe('messages', () => {
  it('encodes with envelope and decodes', () => {
    const h = emptyHistogram();
    observeLatency(h, 0.7);
    observeLatency(h, 3);
    observeLatency(h, 9000);
    const buf = encodeMessage('telemetry', {
      device_id: 'dev-a',
      window_start: 1,
      window_end: 2,
      model: { name: 'm', version: '1.0.0', variant: 'int8' },
      inferences: 3,
      errors: 0,
      latency_ms: h,
    });
    const msg = decodeMessage('telemetry', buf);
    expect(msg.v).toBe(PROTOCOL_VERSION);
    expect(msg.id.length).toBeGreaterThanOrEqual(8);
    expect(msg.latency_ms.counts.reduce((a, b) => a + b)).toBe(3);
    expect(histogramQuantile(msg.latency_ms, 0.5)).toBe(5);
    expect(histogramQuantile(msg.latency_ms, 1)).toBe(Infinity);
  });
  it('rejects wrong version, bad JSON and bad shape with E_PROTOCOL', () => {
    expect(() => decodeMessage('status', '{')).toThrow(/not JSON/);
    expect(() =>
      decodeMessage('status', JSON.stringify({ v: 2, id: 'abcdefgh', ts: 1, device_id: 'dev-a', state: 'online' })),
    ).toThrow(/version 2/);
    expect(() =>
      decodeMessage('status', JSON.stringify({ v: 1, id: 'abcdefgh', ts: 1, device_id: 'dev-a', state: 'asleep' })),
    ).toThrow(/invalid status/);
    expect(() => encodeMessage('ack', { device_id: 'dev-a' } as never)).toThrow(/E_PROTOCOL|invalid ack/);
  });
  it('ignores unknown fields (additive changes stay compatible)', () => {
    const m = decodeMessage(
      'status',
      JSON.stringify({ v: 1, id: 'abcdefgh', ts: 1, device_id: 'dev-a', state: 'online', extra: 1 }),
    );
    expect(m).not.toHaveProperty('extra');
  });
  it('HTTP schemas convert to JSON schema for Fastify', () => {
    for (const s of [EnrollResponse, CreateDeploymentRequest]) {
      const js = z.toJSONSchema(s, { target: 'draft-7', io: 'input' }) as { type: string };
      expect(js.type).toBe('object');
    }
    expect(CreateDeploymentRequest.safeParse({ model: 'm', version: '1.0.0', target: {} }).success).toBe(false);
  });
});

describe('signatures and variants', () => {
  it('verifies a signature and rejects a tampered digest or another key', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const other = generateKeyPairSync('ed25519').publicKey;
    const sha = 'ab'.repeat(32);
    const sig = signArtifact(sha, privateKey);
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(verifyArtifactSignature(sha, sig, pem)).toBe(true);
    expect(verifyArtifactSignature('cd'.repeat(32), sig, pem)).toBe(false);
    expect(verifyArtifactSignature(sha, sig, other)).toBe(false);
    expect(publicKeyId(pem)).toMatch(/^[0-9a-f]{16}$/);
  });
  it('checks what a device trusts without node:crypto (key-trust.ts) exactly as node:crypto does', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const otherPem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(publicKeyPemId(pem)).toBe(publicKeyId(pem));
    for (let i = 0; i < 20; i++) {
      const sha = (i.toString(16).padStart(2, '0') + 'ab').repeat(16);
      const sig = signArtifact(sha, privateKey);
      const flipped = Buffer.from(sig, 'base64');
      flipped[i % 64]! ^= 1 << (i % 8);
      for (const [s, key] of [
        [sig, pem],
        [sig, otherPem],
        [flipped.toString('base64'), pem],
      ] as const)
        expect(verifyEd25519(artifactSignaturePayload(sha), s, key)).toBe(verifyArtifactSignature(sha, s, key));
    }
    // not an ed25519 key, not base64, not a PEM: refused, never thrown
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' });
    const sha = 'ab'.repeat(32);
    const sig = signArtifact(sha, privateKey);
    for (const bad of [ec.toString(), 'garbage', pem.replace(/\n[^-]+\n/, '\n!!!!\n')])
      expect(verifyEd25519(artifactSignaturePayload(sha), sig, bad)).toBe(false);
    expect(() => publicKeyPemId(ec.toString())).toThrow();
    // the device's check: trusted key, other key, revoked key, bad signature
    const trust = initialKeyTrust({ public_key_pem: pem });
    const id = publicKeyId(pem);
    expect(artifactTrustProblem(trust, { sha256: sha, signature: sig, key_id: id })).toBeUndefined();
    expect(artifactTrustProblem(trust, { sha256: sha, signature: sig, key_id: 'f'.repeat(16) })).toMatch(
      /not a key this device trusts/,
    );
    expect(artifactTrustProblem({ ...trust, revoked: [id] }, { sha256: sha, signature: sig, key_id: id })).toMatch(
      /revoked/,
    );
    expect(artifactTrustProblem(trust, { sha256: 'cd'.repeat(32), signature: sig, key_id: id })).toMatch(
      /does not verify/,
    );
  });
  it('selects the variant for a profile', () => {
    const ref = (
      variant: string,
      precision: 'fp32' | 'int8' | 'fp16',
      size: number,
      p: string | null = null,
    ): ArtifactRef => ({
      variant,
      precision,
      profile: p,
      sha256: '0'.repeat(64),
      size,
      url: '',
      signature: '',
      key_id: '',
    });
    const vs = [
      ref('fp32', 'fp32', 100),
      ref('int8', 'int8', 30),
      ref('fp16', 'fp16', 50),
      ref('big', 'fp32', 90, 'edge-large'),
    ];
    expect(selectVariant(vs, { precisions: ['fp32'] })?.variant).toBe('fp32');
    expect(selectVariant(vs, { precisions: ['fp32', 'int8'] })?.variant).toBe('int8');
    expect(selectVariant(vs, { precisions: ['fp32', 'int8'], class: 'edge-large' })?.variant).toBe('big');
    expect(selectVariant([ref('int8', 'int8', 1)], { precisions: ['fp32'] })).toBeNull();
    expect(profile.precisions).toContain('fp32');
  });

  it("carries a variant's measured loaded memory, bounded: one entry per batch, at most MAX_LOADED_MEMORY_POINTS", () => {
    const base = {
      variant: 'fp32',
      precision: 'fp32' as const,
      sha256: 'a'.repeat(64),
      size: 489_362,
      url: '/v1/artifacts/x',
      signature: 's'.repeat(88),
      key_id: 'k'.repeat(16),
    };
    const loaded = [
      { batch: 1, bytes: 1_572_864 },
      { batch: 32, bytes: 4_854_000 },
    ];
    expect(ArtifactRefSchema.parse({ ...base, loaded_memory: loaded }).loaded_memory).toEqual(loaded);
    expect(ArtifactRefSchema.parse(base).loaded_memory).toBeUndefined(); // absent: not measured
    const refused = [
      [],
      [
        { batch: 1, bytes: 1 },
        { batch: 1, bytes: 2 },
      ],
      [{ batch: 0, bytes: 1 }],
      [{ batch: 1, bytes: -1 }],
      [{ batch: 1, bytes: 1.5 }],
      Array.from({ length: MAX_LOADED_MEMORY_POINTS + 1 }, (_, i) => ({ batch: i + 1, bytes: 1 })),
    ];
    for (const bad of refused) expect(ArtifactRefSchema.safeParse({ ...base, loaded_memory: bad }).success).toBe(false);
    const req = { name: 'm', version: '1.0.0', sha256: 'a'.repeat(64), loaded_memory: loaded };
    expect(PublishModelRequest.parse(req).loaded_memory).toEqual(loaded);
    // the largest deploy message verge sends still fits the broker's packet limit
    const full = Array.from({ length: MAX_LOADED_MEMORY_POINTS }, (_, i) => ({ batch: 2 ** i, bytes: 2 ** 40 }));
    const variants = Array.from({ length: MAX_MODEL_VARIANTS }, (_, i) => ({
      ...base,
      variant: `variant-${i}`.padEnd(64, 'x'),
      profile: 'p'.repeat(64),
      url: `/v1/artifacts/${'a'.repeat(64)}`,
      encryption: 'aes-256-gcm' as const,
      loaded_memory: full,
    }));
    const models = Array.from({ length: MAX_DESIRED_MODELS }, (_, i) => ({
      deployment_id: `dep-${i}`.padEnd(64, '0'),
      name: `model-${i}`.padEnd(128, 'm'),
      version: '1.0.0-rc.1',
      variants,
    }));
    const msg = encodeMessage('deploy', { device_id: 'dev-0123456789ab', generation: 1, models, key_set: 1 });
    expect(msg.length).toBeLessThan(MAX_MQTT_PACKET_BYTES);
  });
});
