/**
 * Models and artifacts: upload an artifact (raw stream, hashed on the way to disk), publish a
 * version/variant of it, list the registry, and download artifacts (with Range, for resuming).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Readable } from 'node:stream';
import { VergeError } from '../../errors.ts';
import {
  ArtifactUploadResponse,
  HTTP_ROUTES,
  ModelVersion,
  ModelsResponse,
  PublishModelRequest,
  WrappedArtifactKey,
} from '../../protocol/index.ts';
import { parseRange } from '../artifacts.ts';
import { UPLOAD_BODY_TIMEOUT_MS } from '../http-app.ts';
import { requestDeviceId } from '../http-auth.ts';
import { errorResponses, js, parse } from './schemas.ts';

export interface ArtifactReader {
  has(sha256: string): boolean;
  size(sha256: string): number;
  /** false when the stored bytes no longer hash to their name (the file is then set aside). */
  verify(sha256: string): Promise<boolean>;
  read(sha256: string, range?: { start: number; end: number }): Readable;
}

export interface ModelApi {
  artifacts: ArtifactReader;
  /** Whether a device may download an artifact (artifact-access.ts); operators may download any. */
  deviceMayDownload(deviceId: string, sha256: string): Promise<boolean>;
  /** A confidential artifact's content key wrapped to a device it is deployed to (artifact-access.ts). */
  artifactKey(deviceId: string, sha256: string): Promise<WrappedArtifactKey>;
  uploadArtifact(body: Readable): Promise<{ sha256: string; size: number }>;
  publish(req: PublishModelRequest): Promise<ModelVersion>;
  list(name?: string): Promise<ModelsResponse>;
}

/** Largest artifact accepted by upload (a model file); 4 GiB covers multi-GB LLM-class ONNX files. */
const MAX_ARTIFACT_BYTES = 4 * 1024 ** 3;

const sha256Param = {
  type: 'object',
  properties: { sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
  required: ['sha256'],
};

export const modelRoutes: FastifyPluginAsync<{ models: ModelApi }> = async (app, { models }) => {
  // artifacts are uploaded as a raw stream (this plugin's routes only)
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  app.get(
    HTTP_ROUTES.artifact,
    { config: { auth: 'device-or-read' }, schema: { tags: ['agent'], params: sha256Param } },
    async (req, reply) => {
      const { sha256 } = req.params as { sha256: string };
      const p = req.principal;
      const allowed = p.kind !== 'device' || (await models.deviceMayDownload(p.deviceId, sha256));
      // the same answer as for a missing artifact: a device learns nothing of what it may not fetch
      if (!allowed || !models.artifacts.has(sha256)) throw new VergeError('E_NOT_FOUND', `no artifact ${sha256}`);
      if (!(await models.artifacts.verify(sha256)))
        throw Object.assign(
          new VergeError('E_INTEGRITY', `artifact ${sha256} is damaged on the server (set aside); publish it again`),
          { statusCode: 500 },
        );
      const size = models.artifacts.size(sha256);
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
        return reply.send(models.artifacts.read(sha256, range));
      }
      reply.header('content-length', size);
      return reply.send(models.artifacts.read(sha256));
    },
  );

  app.get(
    HTTP_ROUTES.artifactKey,
    {
      config: { auth: 'device' },
      schema: {
        tags: ['agent'],
        params: sha256Param,
        response: { 200: js(WrappedArtifactKey), ...errorResponses },
      },
    },
    async (req) => models.artifactKey(requestDeviceId(req), (req.params as { sha256: string }).sha256),
  );

  app.post(
    HTTP_ROUTES.artifacts,
    {
      config: { auth: 'admin', bodyTimeoutMs: UPLOAD_BODY_TIMEOUT_MS },
      bodyLimit: MAX_ARTIFACT_BYTES,
      schema: { tags: ['models'], response: { 200: js(ArtifactUploadResponse), ...errorResponses } },
    },
    async (req) => {
      if (!req.body || typeof (req.body as Readable).pipe !== 'function')
        throw new VergeError('E_BAD_ARGUMENT', 'send the artifact as application/octet-stream');
      return models.uploadArtifact(req.body as Readable);
    },
  );

  app.post(
    HTTP_ROUTES.models,
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['models'],
        body: js(PublishModelRequest, 'input'),
        response: { 200: js(ModelVersion), ...errorResponses },
      },
    },
    async (req) => models.publish(parse(PublishModelRequest, req.body)),
  );

  app.get(
    HTTP_ROUTES.models,
    {
      config: { auth: 'read' },
      schema: { tags: ['models'], response: { 200: js(ModelsResponse), ...errorResponses } },
    },
    async () => models.list(),
  );

  app.get(
    HTTP_ROUTES.model,
    {
      config: { auth: 'read' },
      schema: {
        tags: ['models'],
        params: { type: 'object', properties: { name: { type: 'string' } } },
        response: { 200: js(ModelsResponse), ...errorResponses },
      },
    },
    async (req) => {
      const { name } = req.params as { name: string };
      const res = await models.list(name);
      if (res.models.length === 0) throw new VergeError('E_NOT_FOUND', `no model '${name}'`);
      return res;
    },
  );
};
