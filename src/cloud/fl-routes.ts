/**
 * HTTP routes of federated learning: the operator's job API (create, list, show, stop) and the
 * device uploads (key registration, updates, evaluations). Schemas come from protocol/fl.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { VergeError } from '../errors.ts';
import {
  CreateFlJobRequest,
  ErrorResponse,
  FL_HEADERS,
  FL_PATHS,
  FlJob,
  FlJobsResponse,
  FlUploadResponse,
  MAX_FL_UPLOAD_BYTES,
  RegisterFlKeyRequest,
  RegisterFlKeyResponse,
} from '../protocol/index.ts';
import type { FlCoordinator } from './fl-coordinator.ts';
import type { FlUploads } from './fl-uploads.ts';

function js(schema: z.ZodType, io: 'input' | 'output' = 'output'): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { target: 'draft-7', io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

const errors = {
  400: js(ErrorResponse),
  401: js(ErrorResponse),
  403: js(ErrorResponse),
  404: js(ErrorResponse),
  409: js(ErrorResponse),
};
const jobParams = { type: 'object', properties: { id: { type: 'string', maxLength: 64 } }, required: ['id'] };
const roundParams = {
  type: 'object',
  properties: { id: { type: 'string', maxLength: 64 }, round: { type: 'string', pattern: '^[0-9]{1,6}$' } },
  required: ['id', 'round'],
};

/** Read a raw upload stream, refusing it as soon as it passes `limit` bytes. */
async function readLimited(body: unknown, limit: number): Promise<Uint8Array> {
  if (!body || typeof (body as Readable).on !== 'function')
    throw new VergeError('E_BAD_ARGUMENT', 'send the update as application/octet-stream');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of body as Readable) {
    size += (c as Buffer).length;
    if (size > limit) {
      (body as Readable).destroy();
      throw new VergeError('E_BAD_ARGUMENT', `update exceeds ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

const header = (h: Record<string, string | string[] | undefined>, k: string): string | undefined => {
  const v = h[k];
  return Array.isArray(v) ? v[0] : v;
};

export function registerFlRoutes(app: FastifyInstance, fl: { coordinator: FlCoordinator; uploads: FlUploads }): void {
  app.post(
    FL_PATHS.jobs,
    {
      config: { auth: 'admin' },
      schema: { tags: ['federated'], body: js(CreateFlJobRequest, 'input'), response: { 200: js(FlJob), ...errors } },
    },
    async (req) => fl.coordinator.create(req.body),
  );
  app.get(
    FL_PATHS.jobs,
    { config: { auth: 'read' }, schema: { tags: ['federated'], response: { 200: js(FlJobsResponse), ...errors } } },
    async () => ({ jobs: await fl.coordinator.list() }),
  );
  app.get(
    `${FL_PATHS.jobs}/:id`,
    {
      config: { auth: 'read' },
      schema: { tags: ['federated'], params: jobParams, response: { 200: js(FlJob), ...errors } },
    },
    async (req) => fl.coordinator.describe((req.params as { id: string }).id),
  );
  app.post(
    `${FL_PATHS.jobs}/:id/stop`,
    {
      config: { auth: 'admin' },
      schema: { tags: ['federated'], params: jobParams, response: { 200: js(FlJob), ...errors } },
    },
    async (req) => fl.coordinator.stop((req.params as { id: string }).id),
  );
  app.put(
    FL_PATHS.deviceKey,
    {
      config: { auth: 'device' },
      schema: {
        tags: ['agent'],
        body: js(RegisterFlKeyRequest, 'input'),
        response: { 200: js(RegisterFlKeyResponse), ...errors },
      },
    },
    async (req) => {
      const body = RegisterFlKeyRequest.safeParse(req.body);
      if (!body.success) throw new VergeError('E_BAD_ARGUMENT', 'body needs public_key_pem');
      return fl.uploads.registerKey((req.principal as { deviceId: string }).deviceId, body.data.public_key_pem);
    },
  );
  app.post(
    `${FL_PATHS.jobs}/:id/rounds/:round/update`,
    {
      config: { auth: 'device' },
      bodyLimit: MAX_FL_UPLOAD_BYTES,
      schema: { tags: ['agent'], params: roundParams, response: { 200: js(FlUploadResponse), ...errors } },
    },
    async (req) => {
      const { id, round } = req.params as { id: string; round: string };
      const h = req.headers;
      const body = await readLimited(req.body, MAX_FL_UPLOAD_BYTES);
      return fl.uploads.receiveUpdate(
        id,
        Number(round),
        (req.principal as { deviceId: string }).deviceId,
        {
          token: header(h, FL_HEADERS.token),
          examples: header(h, FL_HEADERS.examples),
          metrics: header(h, FL_HEADERS.metrics),
          signature: header(h, FL_HEADERS.signature),
        },
        body,
      );
    },
  );
  app.post(
    `${FL_PATHS.jobs}/:id/rounds/:round/evaluation`,
    {
      config: { auth: 'device' },
      schema: { tags: ['agent'], params: roundParams, response: { 200: js(FlUploadResponse), ...errors } },
    },
    async (req) => {
      const { id, round } = req.params as { id: string; round: string };
      return fl.uploads.receiveEvaluation(
        id,
        Number(round),
        (req.principal as { deviceId: string }).deviceId,
        req.body,
      );
    },
  );
}
