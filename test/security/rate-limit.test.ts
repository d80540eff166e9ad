/**
 * Finding 9 (rest): the control plane's HTTP API had no request rate limit — one client could
 * take all of it. Attacked here on the real control plane (SQLite, embedded broker) over real
 * sockets with the default limits (the per-key one made smaller): an unauthenticated flood, a flood with one operator key and
 * a flood with one device's credentials each get 429 `E_OVERLOADED` with Retry-After in the house
 * error body, while other operators and devices keep being served, and the flooder is served
 * again once it waited.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_RATE_LIMITS } from '../../src/cloud/rate-limit.ts';
import { enroll } from '../../src/edge/enrollment.ts';
import { parseProfileSpec } from '../../src/edge/profile.ts';
import { HTTP_PATHS, type ApiKeyResponse, type EnrollTokenResponse } from '../../src/protocol/index.ts';
import { startCloud, type Cloud } from './harness.ts';

const clouds: Cloud[] = [];
afterEach(async () => {
  for (const c of clouds.splice(0)) await c.close().catch(() => undefined);
});

interface Flood {
  ok: number;
  limited: number;
  /** One 429 answer: its Retry-After and body. */
  sample?: { retryAfter: string | null; body: unknown };
}

/** Up to `n` requests, `concurrency` at a time; stops after 50 refusals. */
async function flood(url: string, n: number, headers: Record<string, string> = {}, concurrency = 24): Promise<Flood> {
  const out: Flood = { ok: 0, limited: 0 };
  let next = 0;
  const worker = async () => {
    while (next < n && out.limited < 50) {
      next++;
      const res = await fetch(url, { headers });
      if (res.status === 429) {
        out.limited++;
        if (!out.sample) out.sample = { retryAfter: res.headers.get('retry-after'), body: await res.json() };
        else await res.body?.cancel();
      } else {
        if (res.ok) out.ok++;
        await res.body?.cancel();
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

function expectLimited(f: Flood, burst: number): void {
  expect(f.limited).toBeGreaterThan(0);
  // the burst is served in full (refills add a few)
  expect(f.ok).toBeGreaterThanOrEqual(burst);
  expect(f.sample!.body).toEqual({
    error: { code: 'E_OVERLOADED', message: expect.stringMatching(/too many requests/) },
  });
  expect(Number(f.sample!.retryAfter)).toBeGreaterThanOrEqual(1);
}

describe('HTTP request rate limits (finding 9)', () => {
  it('an unauthenticated flood from one address is limited; operators and devices are still served', async () => {
    const cloud = await startCloud('sqlite');
    clouds.push(cloud);
    const dev = await cloud.device('rl-device');
    const f = await flood(cloud.url + HTTP_PATHS.signingKey, DEFAULT_RATE_LIMITS.anonymousBurst * 3);
    expectLimited(f, DEFAULT_RATE_LIMITS.anonymousBurst);
    // the same address with credentials is another caller
    const op = await fetch(cloud.url + HTTP_PATHS.status, {
      headers: { authorization: `Bearer ${cloud.cp.adminKey}` },
    });
    expect(op.status).toBe(200);
    const d = await fetch(cloud.url + HTTP_PATHS.deviceConfig, { headers: { authorization: dev.authHeader } });
    expect(d.status).toBe(200);
    // the flooder is served again after waiting what it was told
    await new Promise((r) => setTimeout(r, Number(f.sample!.retryAfter) * 1000 + 100));
    expect((await fetch(cloud.url + HTTP_PATHS.signingKey)).status).toBe(200);
  }, 60_000);

  it('a flood with one API key or one device is limited per key and per device', async () => {
    // the per-key bucket smaller than its default (100/s, burst 1000), so that the flood outpaces
    // its refill on a loaded machine too (this test's client makes ~70–180 requests/s at load 30)
    const operator = { operatorPerSecond: 20, operatorBurst: 300 };
    const cloud = await startCloud('sqlite', { rateLimits: operator });
    clouds.push(cloud);
    const noisy = await cloud.device('rl-noisy');
    const quiet = await cloud.device('rl-quiet');
    const reader = await cloud.admin.post<ApiKeyResponse>(HTTP_PATHS.apiKeys, { role: 'read-only', name: 'flood' });

    const byDevice = await flood(cloud.url + HTTP_PATHS.deviceConfig, DEFAULT_RATE_LIMITS.deviceBurst * 3, {
      authorization: noisy.authHeader,
    });
    expectLimited(byDevice, DEFAULT_RATE_LIMITS.deviceBurst);
    expect(
      (await fetch(cloud.url + HTTP_PATHS.deviceConfig, { headers: { authorization: quiet.authHeader } })).status,
    ).toBe(200);

    const byKey = await flood(cloud.url + HTTP_PATHS.session, operator.operatorBurst * 3, {
      authorization: `Bearer ${reader.key}`,
    });
    expectLimited(byKey, operator.operatorBurst);
    const admin = await fetch(cloud.url + HTTP_PATHS.session, {
      headers: { authorization: `Bearer ${cloud.cp.adminKey}` },
    });
    expect(admin.status).toBe(200);
  }, 120_000);

  it('devices enrolling behind one address beyond its limit wait as told and all enroll', async () => {
    const cloud = await startCloud('sqlite', { rateLimits: { anonymousPerSecond: 4, anonymousBurst: 4 } });
    clouds.push(cloud);
    const tokens = await Promise.all(
      Array.from(
        { length: 12 },
        async () => (await cloud.admin.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, {})).token,
      ),
    );
    const profile = parseProfileSpec('gateway');
    const enrolled = await Promise.all(tokens.map((t, i) => enroll(cloud.url, t, `rl-nat-${i}`, profile)));
    expect(new Set(enrolled.map((e) => e.device_id)).size).toBe(12);
  }, 60_000);
});
