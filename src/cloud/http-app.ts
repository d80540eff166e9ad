/**
 * The control plane's Fastify instance before any resource is registered: OpenAPI (from the route
 * schemas), authentication (each route's `config.auth`), and the error answer from the one
 * code → status map. Resources are plugins registered on it (control-plane.ts).
 */
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import { PROTOCOL_VERSION, assertNoNul, errorReply } from '../protocol/index.ts';
import { installAuth, type Credentials } from './http-auth.ts';

/** Largest JSON body by default; routes that take more (artifact upload) say so themselves. */
const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;

export async function createHttpApp(opts: { logger?: boolean; credentials: Credentials }): Promise<FastifyInstance> {
  // Ajv must not coerce or fill defaults: zod (parse in each handler) is the authority, and Ajv's
  // coercion would turn an explicit null into '' before zod sees it
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: DEFAULT_BODY_LIMIT,
    ajv: { customOptions: { coerceTypes: false, useDefaults: false, removeAdditional: false } },
  });
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
  installAuth(app, opts.credentials);
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
