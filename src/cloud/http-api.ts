/**
 * The control plane's HTTP routes. Request/response JSON schemas come from protocol/'s zod
 * definitions (z.toJSONSchema), which also feed the OpenAPI document at /openapi.json.
 */
import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { VergeError } from '../errors.ts';
import {
  ApiKeyResponse,
  ArtifactUploadResponse,
  CreateApiKeyRequest,
  CreateDeploymentRequest,
  CreateEnrollTokenRequest,
  Deployment,
  DeploymentsResponse,
  Device,
  DeviceConfigResponse,
  DevicesResponse,
  EnrollRequest,
  EnrollResponse,
  EnrollTokenResponse,
  ErrorResponse,
  ModelsResponse,
  ModelVersion,
  PublishModelRequest,
  RollbackRequest,
  SigningKeyResponse,
  StatusResponse,
  TelemetrySummaryResponse,
} from '../protocol/index.ts';
import { summarizeTelemetry } from './telemetry.ts';
import { parseRange } from './artifacts.ts';
import type { ControlPlaneCore } from './control-plane.ts';

/** zod → JSON schema (draft-07, what Fastify's Ajv speaks). */
function js(schema: z.ZodType, io: 'input' | 'output' = 'output'): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { target: 'draft-7', io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

/** Validate with zod too: applies defaults and refinements JSON schema cannot express. */
function parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body ?? {});
  if (!r.success)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
    );
  return r.data;
}

const errors = {
  400: js(ErrorResponse),
  401: js(ErrorResponse),
  403: js(ErrorResponse),
  404: js(ErrorResponse),
  409: js(ErrorResponse),
};
const idParam = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] };

/** Default window of GET /v1/telemetry: the last hour, what an operator looks at after a rollout. */
const TELEMETRY_SUMMARY_WINDOW_MS = 3600_000;
/** Largest artifact accepted by upload (a model file); 4 GiB covers multi-GB LLM-class ONNX files. */
const MAX_ARTIFACT_BYTES = 4 * 1024 ** 3;

export function registerRoutes(app: FastifyInstance, core: ControlPlaneCore): void {
  // artifacts are uploaded as a raw stream, hashed on the way to disk
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));

  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', core.metrics.registry.contentType);
    return core.metrics.registry.metrics();
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // ---- agent ↔ cloud ----
  app.get('/v1/signing-key', { schema: { tags: ['agent'], response: { 200: js(SigningKeyResponse) } } }, async () =>
    core.signingKeyResponse(),
  );

  app.post(
    '/v1/enroll',
    { schema: { tags: ['agent'], body: js(EnrollRequest, 'input'), response: { 200: js(EnrollResponse), ...errors } } },
    async (req) => core.enroll(parse(EnrollRequest, req.body)),
  );

  app.get(
    '/v1/device',
    { config: { auth: 'device' }, schema: { tags: ['agent'], response: { 200: js(DeviceConfigResponse), ...errors } } },
    async (req) => core.deviceConfig((req.principal as { deviceId: string }).deviceId),
  );

  app.get(
    '/v1/artifacts/:sha256',
    {
      config: { auth: 'device-or-read' },
      schema: {
        tags: ['agent'],
        params: {
          type: 'object',
          properties: { sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
          required: ['sha256'],
        },
      },
    },
    async (req, reply) => {
      const { sha256 } = req.params as { sha256: string };
      if (!core.artifacts.has(sha256)) throw new VergeError('E_NOT_FOUND', `no artifact ${sha256}`);
      const size = core.artifacts.size(sha256);
      const range = parseRange(req.headers.range, size);
      reply
        .header('accept-ranges', 'bytes')
        .header('etag', `"${sha256}"`)
        .header('content-type', 'application/octet-stream');
      if (range === 'unsatisfiable') {
        reply.code(416).header('content-range', `bytes */${size}`);
        return reply.send();
      }
      if (range) {
        reply
          .code(206)
          .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
          .header('content-length', range.end - range.start + 1);
        return reply.send(core.artifacts.read(sha256, range));
      }
      reply.header('content-length', size);
      return reply.send(core.artifacts.read(sha256));
    },
  );

  // ---- operator API ----
  app.post(
    '/v1/enroll-tokens',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['devices'],
        body: js(CreateEnrollTokenRequest, 'input'),
        response: { 200: js(EnrollTokenResponse), ...errors },
      },
    },
    async (req) => core.createEnrollToken(parse(CreateEnrollTokenRequest, req.body)),
  );

  app.post(
    '/v1/api-keys',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['operators'],
        body: js(CreateApiKeyRequest, 'input'),
        response: { 200: js(ApiKeyResponse), ...errors },
      },
    },
    async (req) => {
      const body = parse(CreateApiKeyRequest, req.body);
      return core.createApiKey(body.role, body.name ?? null);
    },
  );

  app.get(
    '/v1/devices',
    { config: { auth: 'read' }, schema: { tags: ['devices'], response: { 200: js(DevicesResponse), ...errors } } },
    async () => ({
      devices: await core.listDevices(),
    }),
  );

  app.get(
    '/v1/devices/:id',
    {
      config: { auth: 'read' },
      schema: { tags: ['devices'], params: idParam, response: { 200: js(Device), ...errors } },
    },
    async (req) => core.getDevice((req.params as { id: string }).id),
  );

  app.post(
    '/v1/devices/:id/revoke',
    {
      config: { auth: 'admin' },
      schema: { tags: ['devices'], params: idParam, response: { 200: js(Device), ...errors } },
    },
    async (req) => core.revokeDevice((req.params as { id: string }).id),
  );

  app.post(
    '/v1/artifacts',
    {
      config: { auth: 'admin' },
      bodyLimit: MAX_ARTIFACT_BYTES,
      schema: { tags: ['models'], response: { 200: js(ArtifactUploadResponse), ...errors } },
    },
    async (req) => {
      if (!req.body || typeof (req.body as Readable).pipe !== 'function')
        throw new VergeError('E_BAD_ARGUMENT', 'send the artifact as application/octet-stream');
      return core.uploadArtifact(req.body as Readable);
    },
  );

  app.post(
    '/v1/models',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['models'],
        body: js(PublishModelRequest, 'input'),
        response: { 200: js(ModelVersion), ...errors },
      },
    },
    async (req) => core.publishModel(parse(PublishModelRequest, req.body)),
  );

  app.get(
    '/v1/models',
    { config: { auth: 'read' }, schema: { tags: ['models'], response: { 200: js(ModelsResponse), ...errors } } },
    async () => core.listModels(),
  );

  app.get(
    '/v1/models/:name',
    {
      config: { auth: 'read' },
      schema: {
        tags: ['models'],
        params: { type: 'object', properties: { name: { type: 'string' } } },
        response: { 200: js(ModelsResponse), ...errors },
      },
    },
    async (req) => {
      const res = await core.listModels((req.params as { name: string }).name);
      if (res.models.length === 0)
        throw new VergeError('E_NOT_FOUND', `no model '${(req.params as { name: string }).name}'`);
      return res;
    },
  );

  app.post(
    '/v1/deployments',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['deployments'],
        body: js(CreateDeploymentRequest, 'input'),
        response: { 200: js(Deployment), ...errors },
      },
    },
    async (req) => core.deployments.create(req.body),
  );

  app.get(
    '/v1/deployments',
    {
      config: { auth: 'read' },
      schema: {
        tags: ['deployments'],
        querystring: {
          type: 'object',
          properties: { model: { type: 'string' }, active: { type: 'string', enum: ['true', 'false'] } },
        },
        response: { 200: js(DeploymentsResponse), ...errors },
      },
    },
    async (req) => {
      const q = req.query as { model?: string; active?: string };
      return { deployments: await core.deployments.list({ model: q.model, active: q.active === 'true' }) };
    },
  );

  app.get(
    '/v1/deployments/:id',
    {
      config: { auth: 'read' },
      schema: { tags: ['deployments'], params: idParam, response: { 200: js(Deployment), ...errors } },
    },
    async (req) => core.deployments.view((req.params as { id: string }).id),
  );

  app.post(
    '/v1/deployments/:id/promote',
    {
      config: { auth: 'admin' },
      schema: { tags: ['deployments'], params: idParam, response: { 200: js(Deployment), ...errors } },
    },
    async (req) => core.deployments.promote((req.params as { id: string }).id),
  );

  app.post(
    '/v1/deployments/:id/rollback',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['deployments'],
        params: idParam,
        body: js(RollbackRequest, 'input'),
        response: { 200: js(Deployment), ...errors },
      },
    },
    async (req) => {
      const body = parse(RollbackRequest, req.body);
      return core.deployments.rollback((req.params as { id: string }).id, body.reason ?? 'rolled back by operator');
    },
  );

  app.get(
    '/v1/telemetry',
    {
      config: { auth: 'read' },
      schema: {
        tags: ['operators'],
        querystring: {
          type: 'object',
          properties: { model: { type: 'string' }, since: { type: 'string', pattern: '^[0-9]+$' } },
        },
        response: { 200: js(TelemetrySummaryResponse), ...errors },
      },
    },
    async (req) => {
      const q = req.query as { model?: string; since?: string };
      const since = q.since ? Number(q.since) : Date.now() - TELEMETRY_SUMMARY_WINDOW_MS;
      return summarizeTelemetry(core.repo, since, q.model);
    },
  );

  app.get(
    '/v1/status',
    { config: { auth: 'read' }, schema: { tags: ['operators'], response: { 200: js(StatusResponse), ...errors } } },
    async () => core.status(),
  );
}
