/** Keys: the artifact-signing key devices verify with, and operator API keys. */
import type { FastifyPluginAsync } from 'fastify';
import {
  ApiKeyId,
  ApiKeyResponse,
  ApiKeysResponse,
  CreateApiKeyRequest,
  HTTP_ROUTES,
  SigningKeyResponse,
  type ApiKeyInfo,
  type Role,
} from '../../protocol/index.ts';
import { errorResponses, idParam, js, parse } from './schemas.ts';

export interface KeyApi {
  signingKeyResponse(): SigningKeyResponse;
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
