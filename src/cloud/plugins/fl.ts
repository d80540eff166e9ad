/**
 * Federated learning's routes: the operator's job API (create, list, show, stop) and the device
 * uploads (key registration, updates, evaluations). Schemas come from protocol/fl.ts.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Readable } from 'node:stream';
import { VergeError } from '../../errors.ts';
import {
  CreateFlJobRequest,
  FL_HEADERS,
  FL_ROUTES,
  FlJob,
  FlJobsResponse,
  FlUploadResponse,
  MAX_FL_UPLOAD_BYTES,
  RegisterFlKeyRequest,
  RegisterFlKeyResponse,
  SECAGG_UPLOAD_PHASES,
  type SecAggUploadPhase,
} from '../../protocol/index.ts';
import type { UpdateHeaders } from '../fl-uploads.ts';
import { UPLOAD_BODY_TIMEOUT_MS } from '../http-app.ts';
import { errorResponses as errors, js, parse } from './schemas.ts';

export interface FlApi {
  create(input: unknown): Promise<FlJob>;
  list(): Promise<FlJob[]>;
  describe(id: string): Promise<FlJob>;
  stop(id: string): Promise<FlJob>;
  registerKey(deviceId: string, pem: string): Promise<{ device_id: string; key_id: string }>;
  receiveUpdate(
    jobId: string,
    round: number,
    deviceId: string,
    h: UpdateHeaders,
    body: Uint8Array,
  ): Promise<{ accepted: boolean; round: number }>;
  receiveSecAgg(
    jobId: string,
    round: number,
    deviceId: string,
    phase: SecAggUploadPhase,
    h: UpdateHeaders,
    body: Uint8Array,
  ): Promise<{ accepted: boolean; round: number }>;
  receiveEvaluation(
    jobId: string,
    round: number,
    deviceId: string,
    input: unknown,
  ): Promise<{ accepted: boolean; round: number }>;
}
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

export const flRoutes: FastifyPluginAsync<{ fl: FlApi }> = async (app, { fl }) => {
  // updates arrive as a raw stream, read with a byte limit (readLimited)
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  app.post(
    FL_ROUTES.jobs,
    {
      config: { auth: 'admin' },
      schema: { tags: ['federated'], body: js(CreateFlJobRequest, 'input'), response: { 200: js(FlJob), ...errors } },
    },
    async (req) => fl.create(req.body),
  );
  app.get(
    FL_ROUTES.jobs,
    { config: { auth: 'read' }, schema: { tags: ['federated'], response: { 200: js(FlJobsResponse), ...errors } } },
    async () => ({ jobs: await fl.list() }),
  );
  app.get(
    FL_ROUTES.job,
    {
      config: { auth: 'read' },
      schema: { tags: ['federated'], params: jobParams, response: { 200: js(FlJob), ...errors } },
    },
    async (req) => fl.describe((req.params as { id: string }).id),
  );
  app.post(
    FL_ROUTES.stop,
    {
      config: { auth: 'admin' },
      schema: { tags: ['federated'], params: jobParams, response: { 200: js(FlJob), ...errors } },
    },
    async (req) => fl.stop((req.params as { id: string }).id),
  );
  app.put(
    FL_ROUTES.deviceKey,
    {
      config: { auth: 'device' },
      schema: {
        tags: ['agent'],
        body: js(RegisterFlKeyRequest, 'input'),
        response: { 200: js(RegisterFlKeyResponse), ...errors },
      },
    },
    async (req) => {
      const body = parse(RegisterFlKeyRequest, req.body);
      return fl.registerKey((req.principal as { deviceId: string }).deviceId, body.public_key_pem);
    },
  );
  app.post(
    FL_ROUTES.update,
    {
      config: { auth: 'device', bodyTimeoutMs: UPLOAD_BODY_TIMEOUT_MS },
      bodyLimit: MAX_FL_UPLOAD_BYTES,
      schema: { tags: ['agent'], params: roundParams, response: { 200: js(FlUploadResponse), ...errors } },
    },
    async (req) => {
      const { id, round } = req.params as { id: string; round: string };
      const h = req.headers;
      const body = await readLimited(req.body, MAX_FL_UPLOAD_BYTES);
      return fl.receiveUpdate(
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
    FL_ROUTES.secagg,
    {
      config: { auth: 'device', bodyTimeoutMs: UPLOAD_BODY_TIMEOUT_MS },
      bodyLimit: MAX_FL_UPLOAD_BYTES,
      schema: {
        tags: ['agent'],
        params: {
          ...roundParams,
          properties: { ...roundParams.properties, phase: { type: 'string', enum: [...SECAGG_UPLOAD_PHASES] } },
          required: ['id', 'round', 'phase'],
        },
        response: { 200: js(FlUploadResponse), ...errors },
      },
    },
    async (req) => {
      const { id, round, phase } = req.params as { id: string; round: string; phase: SecAggUploadPhase };
      const h = req.headers;
      const body = await readLimited(req.body, MAX_FL_UPLOAD_BYTES);
      return fl.receiveSecAgg(
        id,
        Number(round),
        (req.principal as { deviceId: string }).deviceId,
        phase,
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
    FL_ROUTES.evaluation,
    {
      config: { auth: 'device' },
      schema: { tags: ['agent'], params: roundParams, response: { 200: js(FlUploadResponse), ...errors } },
    },
    async (req) => {
      const { id, round } = req.params as { id: string; round: string };
      return fl.receiveEvaluation(id, Number(round), (req.principal as { deviceId: string }).deviceId, req.body);
    },
  );
};
