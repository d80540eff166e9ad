/** Keys: the artifact-signing key devices verify with, and operator API keys. */
import type { FastifyPluginAsync } from 'fastify';
import {
  ApiKeyId,
  ApiKeyResponse,
  ApiKeysResponse,
  CreateApiKeyRequest,
  HTTP_ROUTES,
  SigningKeyId,
  SigningKeyResponse,
  SigningKeySet,
  type ApiKeyInfo,
  type Role,
} from '../../protocol/index.ts';
import { errorResponses, idParam, js, parse } from './schemas.ts';

export interface KeyApi {
  signingKeyResponse(): SigningKeyResponse;
  signingKeySet(): SigningKeySet;
  rotateSigningKey(): Promise<SigningKeySet>;
  revokeSigningKey(keyId: string): Promise<SigningKeySet>;
  createApiKey(role: Role, name: string | null): Promise<ApiKeyResponse>;
  listApiKeys(): Promise<ApiKeyInfo[]>;
  revokeApiKey(id: string): Promise<void>;
}

export const keyRoutes: FastifyPluginAsync<{ keys: KeyApi }> = async (app, { keys }) => {
  app.get(
    HTTP_ROUTES.signingKey,
    { schema: { tags: ['agent'], response: { 200: js(SigningKeyResponse) } } },
    async () => keys.signingKeyResponse(),
  );

  app.get(
    HTTP_ROUTES.signingKeys,
    {
      config: { auth: 'device-or-read' },
      schema: { tags: ['agent'], response: { 200: js(SigningKeySet), ...errorResponses } },
    },
    async () => keys.signingKeySet(),
  );

  app.post(
    HTTP_ROUTES.rotateSigningKey,
    {
      config: { auth: 'admin' },
      schema: { tags: ['operators'], response: { 200: js(SigningKeySet), ...errorResponses } },
    },
    async () => keys.rotateSigningKey(),
  );

  app.delete(
    HTTP_ROUTES.signingKeyById,
    {
      config: { auth: 'admin' },
      schema: { tags: ['operators'], params: idParam, response: { 200: js(SigningKeySet), ...errorResponses } },
    },
    async (req) => keys.revokeSigningKey(parse(SigningKeyId, (req.params as { id: string }).id)),
  );

  app.post(
    HTTP_ROUTES.apiKeys,
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['operators'],
        body: js(CreateApiKeyRequest, 'input'),
        response: { 200: js(ApiKeyResponse), ...errorResponses },
      },
    },
    async (req) => {
      const body = parse(CreateApiKeyRequest, req.body);
      return keys.createApiKey(body.role, body.name ?? null);
    },
  );

  app.get(
    HTTP_ROUTES.apiKeys,
    {
      config: { auth: 'admin' },
      schema: { tags: ['operators'], response: { 200: js(ApiKeysResponse), ...errorResponses } },
    },
    async () => ({ keys: await keys.listApiKeys() }),
  );

  app.delete(
    HTTP_ROUTES.apiKey,
    {
      config: { auth: 'admin' },
      schema: { tags: ['operators'], params: idParam, response: { 204: { type: 'null' }, ...errorResponses } },
    },
    async (req, reply) => {
      const id = parse(ApiKeyId, (req.params as { id: string }).id);
      await keys.revokeApiKey(id);
      return reply.code(204).send();
    },
  );
};
