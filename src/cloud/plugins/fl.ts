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
import type { FlCoordinator } from '../fl-coordinator.ts';
import type { FlUploads, UpdateHeaders } from '../fl-uploads.ts';
import { UPLOAD_BODY_TIMEOUT_MS } from '../http-app.ts';
import { requestDeviceId } from '../http-auth.ts';
import { errorResponses as errors, js, parse } from './schemas.ts';

/** What the routes call: the coordinator's job API and the device uploads (cloud/federated.ts). */
export interface FlApi {
  coordinator: Pick<FlCoordinator, 'create' | 'list' | 'describe' | 'stop'>;
  uploads: Pick<FlUploads, 'registerKey' | 'receiveUpdate' | 'receiveSecAgg' | 'receiveEvaluation'>;
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

/** The signed-upload headers (protocol/fl.ts FL_HEADERS) of a request. */
function uploadHeaders(h: Record<string, string | string[] | undefined>): UpdateHeaders {
  const header = (k: string): string | undefined => {
    const v = h[k];
    return Array.isArray(v) ? v[0] : v;
  };
  return {
    token: header(FL_HEADERS.token),
    examples: header(FL_HEADERS.examples),
    metrics: header(FL_HEADERS.metrics),
    signature: header(FL_HEADERS.signature),
  };
}

export const flRoutes: FastifyPluginAsync<{ fl: FlApi }> = async (app, { fl }) => {
  // updates arrive as a raw stream, read with a byte limit (readLimited)
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  app.post(
    FL_ROUTES.jobs,
    {
      config: { auth: 'admin' },
      schema: { tags: ['federated'], body: js(CreateFlJobRequest, 'input'), response: { 200: js(FlJob), ...errors } },
    },
    async (req) => fl.coordinator.create(req.body),
  );
  app.get(
    FL_ROUTES.jobs,
    { config: { auth: 'read' }, schema: { tags: ['federated'], response: { 200: js(FlJobsResponse), ...errors } } },
    async () => ({ jobs: await fl.coordinator.list() }),
  );
  app.get(
    FL_ROUTES.job,
    {
      config: { auth: 'read' },
      schema: { tags: ['federated'], params: jobParams, response: { 200: js(FlJob), ...errors } },
    },
    async (req) => fl.coordinator.describe((req.params as { id: string }).id),
  );
  app.post(
    FL_ROUTES.stop,
    {
      config: { auth: 'admin' },
      schema: { tags: ['federated'], params: jobParams, response: { 200: js(FlJob), ...errors } },
    },
    async (req) => fl.coordinator.stop((req.params as { id: string }).id),
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
      return fl.uploads.registerKey(requestDeviceId(req), body.public_key_pem);
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
      const body = await readLimited(req.body, MAX_FL_UPLOAD_BYTES);
      return fl.uploads.receiveUpdate(id, Number(round), requestDeviceId(req), uploadHeaders(req.headers), body);
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
      const body = await readLimited(req.body, MAX_FL_UPLOAD_BYTES);
      return fl.uploads.receiveSecAgg(id, Number(round), requestDeviceId(req), phase, uploadHeaders(req.headers), body);
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
      return fl.uploads.receiveEvaluation(id, Number(round), requestDeviceId(req), req.body);
    },
  );
};
