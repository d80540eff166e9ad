/**
 * Request rate limits of the control plane's HTTP API: a token bucket per caller — per API key
 * for operators, per device for devices (whatever address they come from), per client address for
 * unauthenticated routes (enrollment, the signing key, the web app, health and metrics, and the
 * WebSocket upgrades of `/v1/mqtt`, which bypass Fastify's hooks: plugins/mqtt-ws.ts). Over its
 * rate a caller gets 429 `E_OVERLOADED` with `Retry-After` (seconds) in the house error body,
 * before its body is read; other callers are not affected. Runs after authentication, so a caller
 * is limited as who it proved to be; failed authentications are not counted (every secret is 256
 * random bits, and a per-address lockout would let one client lock out its NAT neighbours).
 *
 * Limits are per replica (each counts what it serves). Edge-loop uploads have their own per-device
 * byte and batch limits on top (edge-loop-limits.ts).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VergeError } from '../errors.ts';

export interface RateLimits {
  /** Requests per second one API key may make, and the burst it may make at once. */
  operatorPerSecond: number;
  operatorBurst: number;
  /** Per device (an agent makes a few requests a minute: downloads, uploads, key sets, FL). */
  devicePerSecond: number;
  deviceBurst: number;
  /** Per client address, for requests without credentials. */
  anonymousPerSecond: number;
  anonymousBurst: number;
}

export const DEFAULT_RATE_LIMITS: Readonly<RateLimits> = Object.freeze({
  operatorPerSecond: 100,
  operatorBurst: 1000,
  devicePerSecond: 20,
  deviceBurst: 300,
  anonymousPerSecond: 20,
  anonymousBurst: 200,
});

/** Callers tracked at most; beyond it refilled buckets are dropped (and, if none is, all of them). */
const MAX_TRACKED = 100_000;

interface Bucket {
  tokens: number;
  at: number;
  perSecond: number;
  burst: number;
}

export function checkRateLimits(limits: Partial<RateLimits> | undefined): RateLimits {
  const l = { ...DEFAULT_RATE_LIMITS, ...limits };
  for (const [k, v] of Object.entries(l))
    if (!Number.isFinite(v) || v <= 0) throw new VergeError('E_BAD_ARGUMENT', `rate limit ${k} must be > 0, got ${v}`);
  return l;
}

/** Token buckets by caller key. */
export class RequestRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Take one request; 0 when allowed, else the seconds until one is. */
  take(key: string, perSecond: number, burst: number): number {
    const t = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= MAX_TRACKED) this.sweep(t);
      b = { tokens: burst, at: t, perSecond, burst };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * perSecond);
      b.at = t;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / perSecond));
  }

  get tracked(): number {
    return this.buckets.size;
  }

  private sweep(t: number): void {
    for (const [k, b] of this.buckets)
      if (b.tokens + ((t - b.at) / 1000) * b.perSecond >= b.burst) this.buckets.delete(k);
    if (this.buckets.size >= MAX_TRACKED) this.buckets.clear();
  }
}

/** The bucket of a request: its API key, its device, or its address. */
function callerOf(req: FastifyRequest, l: RateLimits): { key: string; perSecond: number; burst: number } {
  const p = req.principal;
  if (p?.kind === 'operator') {
    const key = createHash('sha256')
      .update(req.headers.authorization ?? '')
      .digest('base64url');
    return { key: `o:${key}`, perSecond: l.operatorPerSecond, burst: l.operatorBurst };
  }
  if (p?.kind === 'device') return { key: `d:${p.deviceId}`, perSecond: l.devicePerSecond, burst: l.deviceBurst };
  return { key: anonymousKey(req.ip), perSecond: l.anonymousPerSecond, burst: l.anonymousBurst };
}

const anonymousKey = (address: string) => `a:${address}`;

/**
 * Take one unauthenticated request of `address` outside Fastify's hooks (a WebSocket upgrade):
 * the same bucket as that address's HTTP requests. 0 when allowed, else the seconds to wait.
 */
export function takeAnonymous(limiter: RequestRateLimiter, l: RateLimits, address: string): number {
  return limiter.take(anonymousKey(address), l.anonymousPerSecond, l.anonymousBurst);
}

/** Install after authentication (installAuth): hooks run in order, so the principal is known. */
export function installRateLimit(
  app: FastifyInstance,
  limits: RateLimits,
  limiter = new RequestRateLimiter(),
): RequestRateLimiter {
  app.addHook('onRequest', async (req, reply) => {
    const c = callerOf(req, limits);
    const wait = limiter.take(c.key, c.perSecond, c.burst);
    if (wait === 0) return;
    reply.header('retry-after', String(wait));
    const who =
      req.principal?.kind === 'operator'
        ? 'this API key'
        : req.principal?.kind === 'device'
          ? 'this device'
          : 'this address';
    throw new VergeError(
      'E_OVERLOADED',
      `too many requests from ${who} (more than ${c.perSecond}/s, burst ${c.burst}); retry in ${wait} s`,
    );
  });
  return limiter;
}
