/**
 * The control plane over the real protocol: real HTTP, real MQTT (embedded aedes broker, and
 * Mosquitto + PostgreSQL when present), driven by simulated devices (sim-device.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildControlPlane, CloudClient, type ControlPlane } from '../../src/cloud/index.ts';
import {
  HTTP_PATHS,
  deviceTopic,
  encodeMessage,
  verifyArtifactSignature,
  type Deployment,
  type DevicesResponse,
  type EnrollTokenResponse,
  type ModelVersion,
  type StatusResponse,
  type TelemetrySummaryResponse,
} from '../../src/protocol/index.ts';
import { externalServicesSkipReason, dropSchema, MOSQUITTO_URL, PG_URL, uniqueSchema } from './services.ts';
import { enroll, SimDevice, waitFor, PROFILE_X64 } from './sim-device.ts';

interface Backend {
  name: string;
  external: boolean;
}

const externalSkip = await externalServicesSkipReason();
const backends: (Backend & { skip: string | null })[] = [
  { name: 'embedded broker + SQLite', external: false, skip: null },
  { name: 'Mosquitto + PostgreSQL', external: true, skip: externalSkip },
];

interface Cloud {
  cp: ControlPlane;
  url: string;
  admin: CloudClient;
  dataDir: string;
  schema: string | null;
}

async function startCloud(b: Backend, shared?: { dataDir: string; schema: string }): Promise<Cloud> {
  const dataDir = shared?.dataDir ?? mkdtempSync(join(tmpdir(), 'verge-cloud-test-'));
  const schema = b.external ? (shared?.schema ?? uniqueSchema()) : null;
  const cp = await buildControlPlane({
    dataDir,
    db: b.external ? PG_URL : undefined,
    pgSchema: schema ?? undefined,
    broker: b.external ? MOSQUITTO_URL : undefined,
    tickMs: 100,
  });
  const { url } = await cp.start({ port: 0 });
  return { cp, url, admin: new CloudClient({ url, apiKey: cp.adminKey }), dataDir, schema };
}

async function stopCloud(c: Cloud, opts: { keepData?: boolean } = {}): Promise<void> {
  await c.cp.close();
  if (!opts.keepData) {
    if (c.schema) await dropSchema(c.schema);
    rmSync(c.dataDir, { recursive: true, force: true });
  }
}

async function token(c: Cloud, tags: Record<string, string> = {}): Promise<string> {
  return (await c.admin.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, { tags })).token;
}

async function publish(
  c: Cloud,
  name: string,
  version: string,
  content: string,
  variant = 'fp32',
  precision = 'fp32',
): Promise<ModelVersion> {
  const a = await c.admin.upload<{ sha256: string }>(HTTP_PATHS.artifacts, Buffer.from(content));
  return c.admin.post<ModelVersion>(HTTP_PATHS.models, { name, version, sha256: a.sha256, variant, precision });
}

const deployment = (c: Cloud, id: string) => c.admin.get<Deployment>(HTTP_PATHS.deployment(id));

/** Clear retained deploy messages a test left on a shared external broker. */
async function clearRetained(deviceIds: string[]): Promise<void> {
  const client = await mqtt.connectAsync(MOSQUITTO_URL, { reconnectPeriod: 0 });
  for (const id of deviceIds) {
    await client.publishAsync(deviceTopic(id, 'deploy'), Buffer.alloc(0), { qos: 1, retain: true });
    await client.publishAsync(deviceTopic(id, 'status'), Buffer.alloc(0), { qos: 1, retain: true });
  }
  await client.endAsync();
}

for (const backend of backends) {
  describe.skipIf(backend.skip !== null)(`control plane over ${backend.name}`, () => {
    let cloud: Cloud;
    const devices: SimDevice[] = [];
    let seq = 0;
    const device = async (name: string, tags: Record<string, string> = {}, opts: { auto?: boolean } = {}) => {
      const unique = `${name}-${++seq}`;
      const d = await SimDevice.create(cloud.url, await token(cloud, tags), unique);
      devices.push(d);
      await d.connect();
      await d.subscribe();
      if (opts.auto !== false) d.auto = {};
      return d;
    };

    beforeAll(async () => {
      cloud = await startCloud(backend);
    });
    afterAll(async () => {
      for (const d of devices) await d.close();
      if (backend.external) await clearRetained(devices.map((d) => d.id));
      await stopCloud(cloud);
    });

    it('enrolls with a one-time token that carries tags; reuse, bad and expired tokens are refused', async () => {
      const t = await token(cloud, { site: 'lab' });
      const first = await enroll(cloud.url, t, 'enroll-a');
      expect(first.status).toBe(200);
      expect(first.body.tags).toEqual({ site: 'lab' });
      expect(first.body.device_id).toMatch(/^dev-/);
      expect(first.body.protocol_version).toBe(1);
      const again = await enroll(cloud.url, t, 'enroll-b');
      expect(again.status).toBe(401);
      expect(again.body.error?.code).toBe('E_AUTH');
      expect((await enroll(cloud.url, 'et_not-a-real-token-at-all', 'enroll-c')).status).toBe(401);
      const expired = (await cloud.admin.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, { ttl_s: 1 })).token;
      await new Promise((r) => setTimeout(r, 1100));
      expect((await enroll(cloud.url, expired, 'enroll-d')).status).toBe(401);
      const dup = await enroll(cloud.url, await token(cloud), 'enroll-a');
      expect(dup.status).toBe(409);
    });

    it('enforces API key roles', async () => {
      const anon = new CloudClient({ url: cloud.url, apiKey: null });
      await expect(anon.get(HTTP_PATHS.devices)).rejects.toThrow(/API key/);
      const bogus = new CloudClient({ url: cloud.url, apiKey: 'vk_bogus' });
      await expect(bogus.get(HTTP_PATHS.devices)).rejects.toMatchObject({ code: 'E_AUTH' });
      const { key } = await cloud.admin.post<{ key: string }>(HTTP_PATHS.apiKeys, { role: 'read-only' });
      const reader = new CloudClient({ url: cloud.url, apiKey: key });
      expect((await reader.get<DevicesResponse>(HTTP_PATHS.devices)).devices).toBeInstanceOf(Array);
      await expect(reader.post(HTTP_PATHS.enrollTokens, {})).rejects.toThrow(/read-only/);
      await expect(reader.post(HTTP_PATHS.apiKeys, { role: 'admin' })).rejects.toMatchObject({ code: 'E_AUTH' });
      const res = await fetch(cloud.url + HTTP_PATHS.enrollTokens, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(403);
    });

    it('signs artifacts: the signature verifies with the served public key and fails for other content', async () => {
      const mv = await publish(cloud, 'sig-model', '1.0.0', 'signed bytes');
      const key = await cloud.admin.get<{ public_key_pem: string; key_id: string }>(HTTP_PATHS.signingKey);
      const v = mv.variants[0]!;
      expect(v.key_id).toBe(key.key_id);
      expect(verifyArtifactSignature(v.sha256, v.signature, key.public_key_pem)).toBe(true);
      expect(verifyArtifactSignature('0'.repeat(64), v.signature, key.public_key_pem)).toBe(false);
      // versions are immutable: same name/version/variant with other bytes is a conflict
      await expect(publish(cloud, 'sig-model', '1.0.0', 'other bytes')).rejects.toMatchObject({ code: 'E_CONFLICT' });
      await expect(publish(cloud, 'sig-model', 'one', 'x')).rejects.toMatchObject({ code: 'E_BAD_ARGUMENT' });
    });

    it('delivers the retained desired state to a device that connects later; download resumes with Range; status per device', async () => {
      const t = await token(cloud, { fleet: 'late' });
      const late = await SimDevice.create(cloud.url, t, 'late-device');
      devices.push(late);
      const mv = await publish(cloud, 'late-model', '1.0.0', 'x'.repeat(10_000));
      const dep = await cloud.admin.post<Deployment>(HTTP_PATHS.deployments, {
        model: 'late-model',
        version: '1.0.0',
        target: { tags: { fleet: 'late' } },
      });
      expect(dep.state).toBe('rolling');
      expect(dep.devices.map((d) => d.state)).toEqual(['pending']);
      // the device was offline during the deployment; the broker hands it the retained state
      late.auto = {};
      await late.connect();
      await late.subscribe();
      const desired = await waitFor(() => late.latestDesired(), 'retained deploy message');
      expect(desired.models[0]).toMatchObject({ name: 'late-model', version: '1.0.0', deployment_id: dep.id });
      const bytes = await late.download(desired.models[0]!.variants[0]!, { resumeAt: 4321 });
      expect(bytes.length).toBe(10_000);
      expect(mv.variants[0]!.size).toBe(10_000);
      const done = await waitFor(async () => {
        const d = await deployment(cloud, dep.id);
        return d.state === 'succeeded' && d;
      }, 'deployment succeeded');
      expect(done.devices[0]).toMatchObject({ state: 'loaded', variant: 'fp32' });
      const listed = (await cloud.admin.get<DevicesResponse>(HTTP_PATHS.devices)).devices.find(
        (d) => d.id === late.id,
      )!;
      expect(listed).toMatchObject({ status: 'online', model: 'late-model', version: '1.0.0', variant: 'fp32' });
      // bad range → 416; unauthenticated download → 401
      const sha = mv.variants[0]!.sha256;
      expect(
        (
          await fetch(cloud.url + HTTP_PATHS.artifact(sha), {
            headers: { authorization: late.authHeader, range: 'bytes=20000-' },
          })
        ).status,
      ).toBe(416);
      expect((await fetch(cloud.url + HTTP_PATHS.artifact(sha))).status).toBe(401);
    });

    it('canary with a failing health gate rolls back automatically; non-canary devices never get the new version', async () => {
      const fleet = await Promise.all([1, 2, 3].map(() => device('canary', { fleet: 'c' })));
      await publish(cloud, 'cm', '1.0.0', 'cm v1');
      await publish(cloud, 'cm', '2.0.0', 'cm v2');
      const base = await cloud.admin.post<Deployment>(HTTP_PATHS.deployments, {
        model: 'cm',
        version: '1.0.0',
        target: { tags: { fleet: 'c' } },
      });
      await waitFor(async () => (await deployment(cloud, base.id)).state === 'succeeded', 'baseline rollout');
      const dep = await cloud.admin.post<Deployment>(HTTP_PATHS.deployments, {
        model: 'cm',
        version: '2.0.0',
        target: { tags: { fleet: 'c' } },
        strategy: 'canary',
        canary_percent: 30,
        health: { max_error_rate: 0.1, min_inferences: 10, timeout_s: 60 },
      });
      expect(dep.previous_version).toBe('1.0.0');
      const canaries = dep.devices.filter((d) => d.canary);
      expect(canaries).toHaveLength(1);
      const canary = fleet.find((d) => d.id === canaries[0]!.device_id)!;
      await waitFor(() => canary.serving.get('cm')?.version === '2.0.0', 'canary loads v2');
      expect((await deployment(cloud, dep.id)).state).toBe('canary'); // gate needs 10 inferences
      await canary.telemetry('cm', 20, 8); // 40% errors > 10%
      const rolled = await waitFor(async () => {
        const d = await deployment(cloud, dep.id);
        return d.state === 'rolled_back' && d;
      }, 'automatic rollback');
      expect(rolled.reason).toMatch(/health gate failed/);
      await waitFor(() => canary.serving.get('cm')?.version === '1.0.0', 'canary back on v1');
      for (const d of fleet)
        if (d !== canary) expect(d.desired.every((m) => m.models.every((x) => x.version === '1.0.0'))).toBe(true);
      const metrics = await (await fetch(cloud.url + '/metrics')).text();
      expect(metrics).toMatch(/verge_rollbacks_total\{trigger="health-gate"\} 1/);
    });

    it('canary that fails to load rolls back; a passing canary waits for promote, then reaches every device', async () => {
      const fleet = await Promise.all([1, 2].map(() => device('promote', { fleet: 'p' })));
      await publish(cloud, 'pm', '1.0.0', 'pm v1');
      await publish(cloud, 'pm', '1.1.0', 'pm v1.1');
      for (const d of fleet) d.auto = { failVersions: ['1.0.0'] };
      const bad = await cloud.admin.post<Deployment>(HTTP_PATHS.deployments, {
        model: 'pm',
        version: '1.0.0',
        target: { tags: { fleet: 'p' } },
        strategy: 'canary',
        canary_percent: 50,
      });
      const badDone = await waitFor(async () => {
        const d = await deployment(cloud, bad.id);
        return d.state === 'rolled_back' && d;
      }, 'rollback after failed load');
      expect(badDone.reason).toMatch(/E_RUNTIME/);
      for (const d of fleet) d.auto = {};
      const dep = await cloud.admin.post<Deployment>(HTTP_PATHS.deployments, {
        model: 'pm',
        version: '1.1.0',
        target: { devices: fleet.map((d) => d.enrollment.name) },
        strategy: 'canary',
        canary_percent: 50,
        auto_promote: false,
        health: { min_inferences: 5 },
      });
      const canary = fleet.find((d) => d.id === dep.devices.find((x) => x.canary)!.device_id)!;
      await waitFor(() => canary.serving.get('pm'), 'canary loaded');
      await canary.telemetry('pm', 50, 0);
      const gated = await waitFor(async () => {
        const d = await deployment(cloud, dep.id);
        return d.gate_passed_at !== null && d;
      }, 'gate passed');
      expect(gated.state).toBe('canary');
      const promoted = await cloud.admin.post<Deployment>(HTTP_PATHS.promote(dep.id));
      expect(promoted.state).not.toBe('canary');
      await waitFor(async () => (await deployment(cloud, dep.id)).state === 'succeeded', 'all devices loaded');
      for (const d of fleet) expect(d.serving.get('pm')?.version).toBe('1.1.0');
      // operator rollback of a finished deployment: devices had nothing before → model removed
      const rb = await cloud.admin.post<Deployment>(HTTP_PATHS.rollback(dep.id), { reason: 'test' });
      expect(rb.state).toBe('rolled_back');
      await waitFor(() => fleet.every((d) => !d.serving.has('pm')), 'model unloaded');
    });

    it('a tampered artifact is rejected by the device and the canary rolls back', async () => {
      const d = await device('tamper', { fleet: 'tamper' });
      const mv = await publish(cloud, 'tam', '1.0.0', 'genuine model bytes');
      const sha = mv.variants[0]!.sha256;
      // corrupt the stored artifact behind the registry's back (disk fault, or an attacker)
      writeFileSync(join(cloud.dataDir, 'artifacts', sha.slice(0, 2), sha), 'tampered model bytes');
      const dep = await cloud.admin.post<Deployment>(HTTP_PATHS.deployments, {
        model: 'tam',
        version: '1.0.0',
        target: { devices: [d.id] },
        strategy: 'canary',
        canary_percent: 50,
      });
      const rolled = await waitFor(async () => {
        const x = await deployment(cloud, dep.id);
        // the deployment turns rolled_back first, then its devices one by one
        return x.state === 'rolled_back' && x.devices.every((y) => y.state === 'rolled_back') && x;
      }, 'rollback after rejected artifact');
      expect(rolled.devices[0]).toMatchObject({ state: 'rolled_back', error: { code: 'E_INTEGRITY' } });
      expect(rolled.reason).toMatch(/rejected.*E_INTEGRITY/);
      expect(d.serving.has('tam')).toBe(false);
    });

    it('a device that fails a full rollout goes back to its previous version; a later rollback does not send it to the failed one', async () => {
      const [ok, bad] = await Promise.all([device('full', { fleet: 'full' }), device('full', { fleet: 'full' })]);
      await publish(cloud, 'fm', '1.0.0', 'fm v1');
      await publish(cloud, 'fm', '2.0.0', 'fm v2');
      await publish(cloud, 'fm', '3.0.0', 'fm v3');
      const v1 = await cloud.admin.post<Deployment>(HTTP_PATHS.deployments, {
        model: 'fm',
        version: '1.0.0',
        target: { tags: { fleet: 'full' } },
      });
      await waitFor(async () => (await deployment(cloud, v1.id)).state === 'succeeded', 'v1 everywhere');
      bad!.auto = { failVersions: ['2.0.0'] };
      const v2 = await cloud.admin.post<Deployment>(HTTP_PATHS.deployments, {
        model: 'fm',
        version: '2.0.0',
        target: { tags: { fleet: 'full' } },
      });
      await waitFor(async () => (await deployment(cloud, v2.id)).state === 'failed', 'v2 rollout failed');
      await waitFor(() => bad!.latestDesired()?.models[0]?.version === '1.0.0', 'failing device pointed back at v1');
      expect(ok!.serving.get('fm')?.version).toBe('2.0.0');
      bad!.auto = {};
      const v3 = await cloud.admin.post<Deployment>(HTTP_PATHS.deployments, {
        model: 'fm',
        version: '3.0.0',
        target: { devices: [bad!.id] },
      });
      expect(v3.previous_version).toBe('1.0.0');
      await waitFor(async () => (await deployment(cloud, v3.id)).state === 'succeeded', 'v3 on the device');
      await cloud.admin.post(HTTP_PATHS.rollback(v3.id), {});
      await waitFor(() => bad!.serving.get('fm')?.version === '1.0.0', 'rolled back to v1, not the rejected v2');
    });

    it('counts telemetry once per message id (redelivery is deduplicated)', async () => {
      const d = await device('telemetry', { fleet: 't' });
      await publish(cloud, 'tm', '1.0.0', 'tm v1');
      const dep = await cloud.admin.post<Deployment>(HTTP_PATHS.deployments, {
        model: 'tm',
        version: '1.0.0',
        target: { devices: [d.id] },
      });
      await waitFor(async () => (await deployment(cloud, dep.id)).state === 'succeeded', 'loaded');
      const before = (await cloud.admin.get<StatusResponse>(HTTP_PATHS.status)).telemetry;
      const payload = await d.telemetry('tm', 7, 1);
      await d.publish('telemetry', {} as never, payload);
      await d.publish('telemetry', {} as never, payload);
      await d.telemetry('tm', 3, 0);
      const after = await waitFor(async () => {
        await cloud.cp.flush();
        const s = (await cloud.admin.get<StatusResponse>(HTTP_PATHS.status)).telemetry;
        return s.messages - before.messages >= 2 && s;
      }, 'telemetry stored');
      await new Promise((r) => setTimeout(r, 200));
      await cloud.cp.flush();
      const final = (await cloud.admin.get<StatusResponse>(HTTP_PATHS.status)).telemetry;
      expect(final.messages - before.messages).toBe(2);
      expect(final.inferences - before.inferences).toBe(10);
      expect(final.errors - before.errors).toBe(1);
      expect(after.messages).toBeLessThanOrEqual(final.messages);
      const summary = await cloud.admin.get<TelemetrySummaryResponse>(`${HTTP_PATHS.telemetry}?model=tm`);
      expect(summary.models).toEqual([
        expect.objectContaining({
          name: 'tm',
          version: '1.0.0',
          variant: 'fp32',
          devices: 1,
          inferences: 10,
          errors: 1,
          p50_ms: 2,
        }),
      ]);
      const metrics = await (await fetch(cloud.url + '/metrics')).text();
      expect(metrics).toMatch(/verge_telemetry_records_total\{result="duplicate"\} [2-9]/);
      // a message with another protocol version is dropped and counted
      await d.publish('telemetry', {} as never, Buffer.from(JSON.stringify({ v: 99, id: 'abcdefgh', ts: 1 })));
      await waitFor(
        async () =>
          /verge_messages_rejected_total\{verb="telemetry"\} 1/.test(
            await (await fetch(cloud.url + '/metrics')).text(),
          ),
        'rejected counted',
      );
    });

    it.skipIf(backend.external)(
      "broker ACL: a device cannot subscribe to or publish on another device's topics; bad credentials are refused",
      async () => {
        const a = await device('acl', {}, { auto: false });
        const b = await device('acl', {}, { auto: false });
        expect(await a.subscribe([deviceTopic(b.id, 'deploy')])).toEqual([128]);
        expect(await a.subscribe(['verge/v1/dev/+/deploy'])).toEqual([128]);
        expect(await a.subscribe(['verge/#'])).toEqual([128]);
        expect(await a.subscribe([deviceTopic(a.id, 'telemetry')])).toEqual([128]);
        expect(await a.subscribe([deviceTopic(a.id, 'deploy')])).toEqual([1]);
        // publishing as another device: the broker drops the connection, the cloud never sees it
        const before = (await cloud.admin.get<DevicesResponse>(HTTP_PATHS.devices)).devices.find(
          (d) => d.id === b.id,
        )!.last_seen;
        const spoof = encodeMessage('status', { device_id: b.id, state: 'offline', reason: 'spoofed' });
        a.client!.publish(deviceTopic(b.id, 'status'), spoof, { qos: 1 }, () => undefined);
        await waitFor(() => !a.client!.connected, 'spoofing client disconnected');
        await new Promise((r) => setTimeout(r, 200));
        const after = (await cloud.admin.get<DevicesResponse>(HTTP_PATHS.devices)).devices.find((d) => d.id === b.id)!;
        expect(after.last_seen).toBe(before);
        expect(after.status).toBe('online');
        const c = new SimDevice(cloud.url, a.enrollment);
        await expect(c.connect({ password: 'wrong' })).rejects.toThrow(/Bad username or password|Not authorized/i);
        await expect(c.connect({ clientId: b.id })).rejects.toThrow(/Not authorized|Bad username/i);
      },
    );

    it('a revoked device is disconnected, refused by the broker, and refused over HTTP', async () => {
      const d = await device('revoked', {}, { auto: false });
      await publish(cloud, 'rm', '1.0.0', 'rm v1');
      // deployed to it: a device downloads only what is deployed to it (test/security/artifact-access.test.ts)
      await cloud.admin.post<Deployment>(HTTP_PATHS.deployments, {
        model: 'rm',
        version: '1.0.0',
        target: { devices: [d.id] },
      });
      const mv = await cloud.admin.get<{ models: { versions: ModelVersion[] }[] }>(HTTP_PATHS.model('rm'));
      const url = cloud.url + mv.models[0]!.versions[0]!.variants[0]!.url;
      expect((await fetch(url, { headers: { authorization: d.authHeader } })).status).toBe(200);
      const revoked = await cloud.admin.post<{ status: string }>(HTTP_PATHS.revokeDevice(d.enrollment.name));
      expect(revoked.status).toBe('revoked');
      expect((await fetch(url, { headers: { authorization: d.authHeader } })).status).toBe(403);
      if (!backend.external) {
        await waitFor(() => !d.client!.connected, 'revoked device disconnected');
        const again = new SimDevice(cloud.url, d.enrollment);
        await expect(again.connect()).rejects.toThrow(/Bad username or password/i);
      } else {
        await waitFor(() => d.commands.some((c) => c.command === 'revoked'), 'revoked command');
      }
      await expect(
        cloud.admin.post(HTTP_PATHS.deployments, { model: 'rm', version: '1.0.0', target: { devices: [d.id] } }),
      ).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    });

    it('targets by profile, predicts the variant per device, refuses devices no variant fits; heartbeats and last will update presence', async () => {
      const small = await SimDevice.create(cloud.url, await token(cloud), 'profile-small', {
        ...PROFILE_X64,
        class: 'edge-small',
        precisions: ['int8'],
      });
      const big = await SimDevice.create(cloud.url, await token(cloud), 'profile-big', {
        ...PROFILE_X64,
        arch: 'arm64',
        precisions: ['fp32'],
      });
      devices.push(small, big);
      for (const d of [small, big]) {
        d.auto = {};
        await d.connect();
        await d.subscribe();
      }
      await publish(cloud, 'vm', '1.0.0', 'vm fp32');
      await publish(cloud, 'vm', '1.0.0', 'vm int8', 'int8', 'int8');
      const dep = await cloud.admin.post<Deployment>(HTTP_PATHS.deployments, {
        model: 'vm',
        version: '1.0.0',
        target: { profile: { class: 'edge-small' } },
      });
      expect(dep.devices.map((d) => [d.name, d.variant])).toEqual([['profile-small', 'int8']]);
      await waitFor(() => small.serving.get('vm')?.variant === 'int8', 'int8 variant loaded');
      const armOnly = await cloud.admin.post<Deployment>(HTTP_PATHS.deployments, {
        model: 'vm',
        version: '1.0.0',
        target: { profile: { arch: 'arm64' } },
      });
      expect(armOnly.devices.map((d) => [d.name, d.variant])).toEqual([['profile-big', 'fp32']]);
      await publish(cloud, 'int8only', '1.0.0', 'int8 only', 'int8', 'int8');
      await expect(
        cloud.admin.post(HTTP_PATHS.deployments, {
          model: 'int8only',
          version: '1.0.0',
          target: { devices: ['profile-big'] },
        }),
      ).rejects.toMatchObject({
        code: 'E_UNSUPPORTED',
      });
      // heartbeat reports what it serves; the last will marks it offline when the connection dies
      await big.heartbeat();
      await cloud.cp.flush();
      const viaHeartbeat = await cloud.admin.get<{ profile: { arch: string }; status: string }>(
        HTTP_PATHS.device('profile-big'),
      );
      expect(viaHeartbeat).toMatchObject({ status: 'online', profile: { arch: 'arm64' } });
      big.client!.stream.destroy(); // abrupt loss: the broker publishes the will
      await waitFor(
        async () => (await cloud.admin.get<{ status: string }>(HTTP_PATHS.device('profile-big'))).status === 'offline',
        'offline via last will',
      );
    });

    it('rejects bad input with one clear error', async () => {
      await expect(
        cloud.admin.post(HTTP_PATHS.deployments, { model: 'nope', version: '1.0.0', target: { tags: { a: 'b' } } }),
      ).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
      await expect(
        cloud.admin.post(HTTP_PATHS.deployments, { model: 'sig-model', version: '1.0.0', target: {} }),
      ).rejects.toMatchObject({ code: 'E_BAD_ARGUMENT' });
      await expect(
        cloud.admin.post(HTTP_PATHS.deployments, {
          model: 'sig-model',
          version: '1.0.0',
          target: { tags: { none: 'x' } },
        }),
      ).rejects.toThrow(/no enrolled device/);
      await expect(
        cloud.admin.post(HTTP_PATHS.models, { name: 'x', version: '1.0.0', sha256: 'f'.repeat(64) }),
      ).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
      const spec = (await (await fetch(cloud.url + '/openapi.json')).json()) as { paths: Record<string, unknown> };
      expect(Object.keys(spec.paths)).toContain('/v1/deployments');
    });
  });
}

describe('control plane restart (embedded broker + SQLite)', () => {
  it('keeps keys, devices and desired state across a restart and re-publishes the retained state', async () => {
    const first = await startCloud({ name: 'embedded', external: false });
    const d = await SimDevice.create(first.url, await token(first), 'restart-1');
    await publish(first, 'rs', '1.0.0', 'rs v1');
    await first.admin.post(HTTP_PATHS.deployments, {
      model: 'rs',
      version: '1.0.0',
      target: { devices: ['restart-1'] },
    });
    const adminKey = first.cp.adminKey;
    await stopCloud(first, { keepData: true });
    const second = await startCloud({ name: 'embedded', external: false }, { dataDir: first.dataDir, schema: '' });
    try {
      expect(second.cp.adminKey).toBe(adminKey);
      // the device reconnects to the new broker (new port) and gets its desired state
      await d.connect({ mqttUrl: second.cp.mqttUrl! });
      await d.subscribe();
      const desired = await waitFor(() => d.latestDesired(), 'retained state after restart');
      expect(desired.models[0]?.version).toBe('1.0.0');
      expect(PROFILE_X64.precisions).toContain('fp32');
    } finally {
      await d.close();
      await stopCloud(second);
    }
  });
});

describe.skipIf(externalSkip !== null)(
  'two control-plane replicas (shared PostgreSQL + Mosquitto + artifact volume)',
  () => {
    it('a deployment created through one replica is delivered, and its status is visible through the other', async () => {
      const b: Backend = { name: 'external', external: true };
      const a = await startCloud(b);
      const other = await startCloud(b, { dataDir: a.dataDir, schema: a.schema! });
      const sims: SimDevice[] = [];
      try {
        expect(other.cp.signingKey.keyId).toBe(a.cp.signingKey.keyId);
        const t = (await other.admin.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, { tags: { r: '2' } })).token;
        for (const i of [1, 2]) {
          const s = await SimDevice.create(
            i === 1 ? a.url : other.url,
            i === 1 ? t : await token(a, { r: '2' }),
            `replica-${i}`,
          );
          s.auto = {};
          await s.connect();
          await s.subscribe();
          sims.push(s);
        }
        await publish(a, 'rep', '1.0.0', 'rep v1');
        const dep = await a.admin.post<Deployment>(HTTP_PATHS.deployments, {
          model: 'rep',
          version: '1.0.0',
          target: { tags: { r: '2' } },
          strategy: 'canary',
          canary_percent: 50,
        });
        const seen = await waitFor(
          async () => {
            const d = await other.admin.get<Deployment>(HTTP_PATHS.deployment(dep.id));
            return d.state === 'succeeded' && d;
          },
          'rollout visible through the other replica',
          20_000,
        );
        expect(seen.devices.every((x) => x.state === 'loaded')).toBe(true);
        for (const s of sims) expect(s.serving.get('rep')?.version).toBe('1.0.0');
        // each device message is handled by one replica (shared subscriptions): telemetry counted once
        await sims[0]!.telemetry('rep', 5, 0);
        await waitFor(async () => {
          await a.cp.flush();
          await other.cp.flush();
          return (await a.admin.get<StatusResponse>(HTTP_PATHS.status)).telemetry.inferences === 5;
        }, 'telemetry counted');
        const devicesViaOther = (await other.admin.get<DevicesResponse>(HTTP_PATHS.devices)).devices;
        expect(devicesViaOther.filter((d) => d.model === 'rep')).toHaveLength(2);
      } finally {
        for (const s of sims) await s.close();
        await clearRetained(sims.map((s) => s.id));
        await other.cp.close();
        await stopCloud(a);
      }
    });
  },
);

describe.skipIf(externalSkip !== null)('control plane restart on an external broker (persistent session)', () => {
  it('telemetry sent while the only replica is down is delivered when it comes back', async () => {
    const b: Backend = { name: 'external', external: true };
    const dataDir = mkdtempSync(join(tmpdir(), 'verge-cloud-test-'));
    const schema = uniqueSchema();
    const instanceId = `test-${schema}`;
    const build = async () => {
      const cp = await buildControlPlane({
        dataDir,
        db: PG_URL,
        pgSchema: schema,
        broker: MOSQUITTO_URL,
        instanceId,
        tickMs: 100,
      });
      const { url } = await cp.start({ port: 0 });
      return { cp, url, admin: new CloudClient({ url, apiKey: cp.adminKey }), dataDir, schema } satisfies Cloud;
    };
    const first = await build();
    const d = await SimDevice.create(first.url, await token(first), 'persist-1');
    d.auto = {};
    await d.connect();
    await d.subscribe();
    try {
      await publish(first, 'ps', '1.0.0', 'ps v1');
      const dep = await first.admin.post<Deployment>(HTTP_PATHS.deployments, {
        model: 'ps',
        version: '1.0.0',
        target: { devices: ['persist-1'] },
      });
      await waitFor(async () => (await deployment(first, dep.id)).state === 'succeeded', 'loaded');
      await first.cp.close(); // the replica goes away; its broker session stays
      await d.telemetry('ps', 11, 0);
      const second = await build();
      try {
        await waitFor(async () => {
          await second.cp.flush();
          return (await second.admin.get<StatusResponse>(HTTP_PATHS.status)).telemetry.inferences === 11;
        }, 'queued telemetry delivered after restart');
      } finally {
        await second.cp.close();
      }
    } finally {
      await d.close();
      await clearRetained([d.id]);
      // drop the persistent session of the test replica
      const c = await mqtt.connectAsync(MOSQUITTO_URL, {
        clientId: `verge-cloud-${instanceId}`,
        clean: true,
        reconnectPeriod: 0,
      });
      await c.endAsync();
      await dropSchema(schema);
      rmSync(dataDir, { recursive: true, force: true });
    }
    expect(b.external).toBe(true);
  });
});
