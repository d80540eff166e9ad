/**
 * The edge data loop's routes (paths and schemas from protocol/edge-loop.ts): deployment policies
 * (operator), codec negotiation and item uploads (devices), the collected items, labels and the
 * dataset export (operator), and the cloud-hosted models' predict (devices and operators).
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { VergeError } from '../../errors.ts';
import {
  CODEC_FRAME_CONTENT_TYPE,
  COLLECT_REASONS,
  CollectedItemsResponse,
  DriftOverview,
  DriftScore,
  DriftSummary,
  DriftUploadRequest,
  EDGE_LOOP_ROUTES,
  EdgeLoopPolicy,
  HTTP_ROUTES,
  LabelItemsRequest,
  LabelItemsResponse,
  MAX_UPLOAD_BYTES,
  PredictResponse,
  RetrainSchedulerStatus,
  SetEdgeLoopPolicyRequest,
  UploadResponse,
  UplinkCodecsResponse,
  type EdgeLoopPolicy as Policy,
} from '../../protocol/index.ts';
import type { ItemQuery } from '../repositories/index.ts';
import { UPLOAD_BODY_TIMEOUT_MS } from '../http-app.ts';
import { requestDeviceId } from '../http-auth.ts';
import { errorResponses as errors, idParam, js } from './schemas.ts';

export interface EdgeLoopApi {
  setPolicy(deploymentId: string, body: unknown): Promise<Policy>;
  policy(deploymentId: string): Promise<Policy>;
  codecs(): Promise<{ codecs: string[]; learned: string[] }>;
  /** Throws (E_OVERLOADED, with `retryAfterS`) when the device is over its upload rate. */
  admitUpload(deviceId: string, bytes: number | null): void;
  receive(deviceId: string, body: Uint8Array, charged?: boolean): Promise<UploadResponse>;
  list(q: ItemQuery): Promise<{ items: unknown[]; total: number }>;
  label(body: unknown): Promise<LabelItemsResponse>;
  exportPage(q: ItemQuery): Promise<Uint8Array>;
  receiveDrift(deviceId: string, body: unknown): Promise<{ stored: number }>;
  setReference(ref: string, body: unknown): Promise<unknown>;
  reference(ref: string): Promise<unknown>;
  driftScore(model: string, since: number, version?: string): Promise<unknown>;
  driftOverview(since: number): Promise<unknown>;
}

/** The control plane's retrain scheduler (retrain-scheduler.ts), as the API shows it. */
export interface RetrainStatusApi {
  status(): RetrainSchedulerStatus;
}

export interface HostedPredictApi {
  predict(target: string, body: unknown, headers: Record<string, string | string[] | undefined>): Promise<unknown>;
}

/** A refusal that says when to retry carries Retry-After (seconds) on its 429. */
function withRetryAfter(reply: FastifyReply, e: unknown): unknown {
  const s = (e as { retryAfterS?: unknown }).retryAfterS;
  if (typeof s === 'number') reply.header('retry-after', String(s));
  return e;
}

/** Window of GET /v1/edge-loop/drift without `since`: the last hour. */
const DEFAULT_DRIFT_WINDOW_MS = 3600_000;

/** Largest predict body on the cloud: the agent API's bound. */
const MAX_PREDICT_BYTES = 64 * 2 ** 20;

const INT = '^[0-9]{1,15}$';
const itemQuery = {
  type: 'object',
  properties: {
    model: { type: 'string', maxLength: 128 },
    device: { type: 'string', maxLength: 64 },
    reason: { type: 'string', enum: [...COLLECT_REASONS] },
    labelled: { type: 'string', enum: ['true', 'false'] },
    order: { type: 'string', enum: ['received', 'hardest'] },
    since: { type: 'string', pattern: INT },
    limit: { type: 'string', pattern: INT },
    offset: { type: 'string', pattern: INT },
  },
  additionalProperties: false,
};

/** The query string (strings, checked by `itemQuery`) as an ItemQuery. */
function toItemQuery(q: Record<string, string | undefined>): ItemQuery {
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const limit = num(q.limit);
  if (limit !== undefined && (limit < 1 || limit > 10_000))
    throw new VergeError('E_BAD_ARGUMENT', `limit must be 1-10000, got ${limit}`);
  return {
    model: q.model,
    device: q.device,
    reason: q.reason,
    labelled: q.labelled === undefined ? undefined : q.labelled === 'true',
    order: q.order as ItemQuery['order'],
    since: num(q.since),
    limit,
    offset: num(q.offset),
  };
}

/**
 * Long because: a Fastify plugin declaring the edge loop's routes (uploads, items, labels,
 * policies, drift, the retrain scheduler's status, hosted predict), each a schema and a handler of
 * a few lines.
 */
export const edgeLoopRoutes: FastifyPluginAsync<{
  loop: EdgeLoopApi;
  hosted: HostedPredictApi;
  retrain: RetrainStatusApi;
}> = async (app, { loop, hosted, retrain }) => {
  // uploads and offloaded inputs are binary; bounded by each route's bodyLimit
  app.addContentTypeParser(
    ['application/octet-stream', CODEC_FRAME_CONTENT_TYPE],
    { parseAs: 'buffer' },
    (_req, body, done) => done(null, new Uint8Array(body as Buffer)),
  );

  app.put(
    EDGE_LOOP_ROUTES.policy,
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['edge-loop'],
        params: idParam,
        body: js(SetEdgeLoopPolicyRequest, 'input'),
        response: { 200: js(EdgeLoopPolicy), ...errors },
      },
    },
    async (req) => loop.setPolicy((req.params as { id: string }).id, req.body),
  );
  app.get(
    EDGE_LOOP_ROUTES.policy,
    {
      config: { auth: 'read' },
      schema: { tags: ['edge-loop'], params: idParam, response: { 200: js(EdgeLoopPolicy), ...errors } },
    },
    async (req) => loop.policy((req.params as { id: string }).id),
  );
  app.get(
    EDGE_LOOP_ROUTES.codecs,
    {
      config: { auth: 'device-or-read' },
      schema: { tags: ['agent'], response: { 200: js(UplinkCodecsResponse), ...errors } },
    },
    async () => loop.codecs(),
  );
  app.post(
    EDGE_LOOP_ROUTES.items,
    {
      config: { auth: 'device', bodyTimeoutMs: UPLOAD_BODY_TIMEOUT_MS },
      bodyLimit: MAX_UPLOAD_BYTES,
      schema: { tags: ['agent'], response: { 200: js(UploadResponse), ...errors } },
      // the device's upload rate is checked before its body is read (auth ran in onRequest)
      preParsing: async (req, reply, payload) => {
        if (req.principal?.kind !== 'device') return payload;
        const len = Number(req.headers['content-length']);
        try {
          loop.admitUpload(req.principal.deviceId, Number.isFinite(len) ? len : null);
        } catch (e) {
          throw withRetryAfter(reply, e);
        }
        return payload;
      },
    },
    async (req, reply) => {
      if (!(req.body instanceof Uint8Array))
        throw new VergeError('E_BAD_ARGUMENT', 'send the upload batch as application/octet-stream');
      const announced = req.headers['content-length'] !== undefined;
      try {
        return await loop.receive(requestDeviceId(req), req.body, announced);
      } catch (e) {
        throw withRetryAfter(reply, e);
      }
    },
  );
  app.get(
    EDGE_LOOP_ROUTES.items,
    {
      config: { auth: 'read' },
      schema: { tags: ['edge-loop'], querystring: itemQuery, response: { 200: js(CollectedItemsResponse), ...errors } },
    },
    async (req) => loop.list(toItemQuery(req.query as Record<string, string>)),
  );
  app.post(
    EDGE_LOOP_ROUTES.labels,
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['edge-loop'],
        body: js(LabelItemsRequest, 'input'),
        response: { 200: js(LabelItemsResponse), ...errors },
      },
    },
    async (req) => loop.label(req.body),
  );
  app.get(
    EDGE_LOOP_ROUTES.export,
    { config: { auth: 'read' }, schema: { tags: ['edge-loop'], querystring: itemQuery } },
    async (req, reply) => {
      const page = await loop.exportPage(toItemQuery(req.query as Record<string, string>));
      reply.header('content-type', 'application/octet-stream');
      return reply.send(Buffer.from(page.buffer, page.byteOffset, page.byteLength));
    },
  );

  app.post(
    EDGE_LOOP_ROUTES.drift,
    { config: { auth: 'device' }, schema: { tags: ['agent'], body: js(DriftUploadRequest, 'input') } },
    async (req) => loop.receiveDrift(requestDeviceId(req), req.body),
  );
  app.get(
    EDGE_LOOP_ROUTES.drift,
    {
      config: { auth: 'read' },
      schema: {
        tags: ['edge-loop'],
        querystring: {
          type: 'object',
          properties: {
            model: { type: 'string', maxLength: 128 },
            version: { type: 'string', maxLength: 64 },
            since: { type: 'string', pattern: INT },
          },
          required: ['model'],
          additionalProperties: false,
        },
        response: { 200: js(DriftScore), ...errors },
      },
    },
    async (req) => {
      const q = req.query as { model: string; version?: string; since?: string };
      return loop.driftScore(
        q.model,
        q.since === undefined ? Date.now() - DEFAULT_DRIFT_WINDOW_MS : Number(q.since),
        q.version,
      );
    },
  );
  app.get(
    EDGE_LOOP_ROUTES.driftModels,
    {
      config: { auth: 'read' },
      schema: {
        tags: ['edge-loop'],
        querystring: {
          type: 'object',
          properties: { since: { type: 'string', pattern: INT } },
          additionalProperties: false,
        },
        response: { 200: js(DriftOverview), ...errors },
      },
    },
    async (req) => {
      const q = req.query as { since?: string };
      return loop.driftOverview(q.since === undefined ? Date.now() - DEFAULT_DRIFT_WINDOW_MS : Number(q.since));
    },
  );
  app.get(
    EDGE_LOOP_ROUTES.retrain,
    {
      config: { auth: 'read' },
      schema: { tags: ['edge-loop'], response: { 200: js(RetrainSchedulerStatus), ...errors } },
    },
    async () => retrain.status(),
  );
  const refParams = { type: 'object', properties: { ref: { type: 'string', maxLength: 200 } }, required: ['ref'] };
  app.put(
    EDGE_LOOP_ROUTES.reference,
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['edge-loop'],
        params: refParams,
        body: js(DriftSummary, 'input'),
        response: { 200: js(DriftSummary), ...errors },
      },
    },
    async (req) => loop.setReference((req.params as { ref: string }).ref, req.body),
  );
  app.get(
    EDGE_LOOP_ROUTES.reference,
    {
      config: { auth: 'read' },
      schema: { tags: ['edge-loop'], params: refParams, response: { 200: js(DriftSummary), ...errors } },
    },
    async (req) => loop.reference((req.params as { ref: string }).ref),
  );

  // `<name>[@<version>]:predict` is one path segment, split here (as the agent's local API does)
  app.post(
    HTTP_ROUTES.model,
    {
      config: { auth: 'device-or-read', bodyTimeoutMs: UPLOAD_BODY_TIMEOUT_MS },
      bodyLimit: MAX_PREDICT_BYTES,
      schema: {
        tags: ['models'],
        params: { type: 'object', properties: { name: { type: 'string', maxLength: 256 } } },
        response: { 200: js(PredictResponse), ...errors },
      },
    },
    async (req) => {
      const target = (req.params as { name: string }).name;
      const colon = target.lastIndexOf(':');
      if (colon <= 0 || target.slice(colon + 1) !== 'predict')
        throw new VergeError(
          'E_NOT_FOUND',
          `unknown verb on '${target}': use POST /v1/models/<name>[@<version>]:predict`,
        );
      return hosted.predict(target.slice(0, colon), req.body, req.headers);
    },
  );
};
