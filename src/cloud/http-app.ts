/**
 * The control plane's Fastify instance before any resource is registered: OpenAPI (from the route
 * schemas), authentication (each route's `config.auth`), and the error answer from the one
 * code → status map. Resources are plugins registered on it (control-plane.ts).
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TlsOptions } from 'node:tls';
import Fastify, { type FastifyInstance } from 'fastify';
import { HTTP_ROUTES, PROTOCOL_VERSION, assertNoNul, errorReply } from '../protocol/index.ts';
import { installAuth, type Credentials } from './http-auth.ts';
import { installRateLimit, type RateLimits, type RequestRateLimiter } from './rate-limit.ts';

/**
 * Largest JSON body by default; routes that take more (artifact, FL and edge-loop uploads) say so
 * themselves. The largest JSON verge sends is a drift upload (100 reports, ≤ ~600 KB).
 */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
/** Largest body of the unauthenticated enrollment route (a token, a name and a profile: ~1 KB). */
export const ENROLL_BODY_LIMIT = 64 * 1024;
/**
 * A request body must have arrived this long after its headers, else the connection is closed (a
 * client trickling its body held a socket and its buffer forever). Upload routes set their own
 * `config.bodyTimeoutMs`.
 */
export const BODY_TIMEOUT_MS = 30_000;
/** Body deadline of the binary upload routes (artifacts up to GBs over a slow link). */
export const UPLOAD_BODY_TIMEOUT_MS = 30 * 60_000;

export interface HttpAppOptions {
  logger?: boolean;
  credentials: Credentials;
  /** Deadline of a JSON body (default BODY_TIMEOUT_MS; tests shorten it). */
  bodyTimeoutMs?: number;
  /** Per-caller request rates (rate-limit.ts); null: none. */
  rateLimits: RateLimits | null;
  /** The buckets, when other entrances (WebSocket upgrades) share them. */
  rateLimiter?: RequestRateLimiter;
  /** Serve HTTPS (and WSS) with these options (tls.ts); absent: plain HTTP. */
  https?: TlsOptions;
}

export async function createHttpApp(opts: HttpAppOptions): Promise<FastifyInstance> {
  // Ajv must not coerce or fill defaults: zod (parse in each handler) is the authority, and Ajv's
  // coercion would turn an explicit null into '' before zod sees it
  const options = {
    logger: opts.logger ?? false,
    bodyLimit: DEFAULT_BODY_LIMIT,
    ajv: { customOptions: { coerceTypes: false, useDefaults: false, removeAdditional: false } },
  };
  // the routes do not depend on the server type; only its TLS socket differs (http-auth.ts reads it)
  const app = (opts.https
    ? Fastify({ ...options, https: opts.https })
    : Fastify(options)) as unknown as FastifyInstance;
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'verge control plane',
        version: String(PROTOCOL_VERSION),
        description: 'Operator and agent API of verge (docs/protocol.md)',
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'operator API key (admin.key or POST /v1/api-keys)' },
          device: { type: 'http', scheme: 'basic', description: 'device_id:password from enrollment' },
        },
      },
    },
  });
  // Swagger UI at /docs: its files come from the npm package; the page's CSP allows this origin only
  // (no CDN, no validator badge), inline styles being how swagger-ui lays itself out. It reads the
  // same document as /openapi.json; "Authorize" takes an operator key (bearer) or device credentials.
  await app.register(swaggerUi, {
    routePrefix: HTTP_ROUTES.docs,
    uiConfig: { docExpansion: 'list', deepLinking: true, validatorUrl: null },
    staticCSP:
      "default-src 'self'; base-uri 'self'; object-src 'none'; frame-ancestors 'self'; img-src 'self' data:; " +
      "font-src 'self' data:; script-src 'self'; script-src-attr 'none'; style-src 'self' 'unsafe-inline'; connect-src 'self'",
  });
  installAuth(app, opts.credentials);
  if (opts.rateLimits) installRateLimit(app, opts.rateLimits, opts.rateLimiter);
  // runs after authentication (onRequest), so only the enrollment route reads an unauthenticated body
  app.addHook('preParsing', async (req, reply, payload) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.raw.complete) return payload;
    const ms = req.routeOptions.config?.bodyTimeoutMs ?? opts.bodyTimeoutMs ?? BODY_TIMEOUT_MS;
    const timer = setTimeout(() => req.raw.destroy(), ms);
    timer.unref();
    const done = () => clearTimeout(timer);
    payload.once('end', done);
    payload.once('close', done);
    payload.once('error', done);
    reply.raw.once('close', done);
    return payload;
  });
  // U+0000 in any text a request carries (path, query, JSON body) is refused here, for every route
  // and both databases: PostgreSQL cannot store it and would answer 500
  app.addHook('preValidation', async (req) => {
    assertNoNul(req.params, 'request path');
    assertNoNul(req.query, 'request query');
    if (req.body && typeof req.body === 'object' && !Buffer.isBuffer(req.body)) assertNoNul(req.body, 'request body');
  });
  app.setErrorHandler((err, _req, reply) => {
    const { status, body } = errorReply(err);
    if (status >= 500) app.log.error(err);
    return reply.code(status).send(body);
  });
  return app;
}
