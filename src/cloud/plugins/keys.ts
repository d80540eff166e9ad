/** Keys: the artifact-signing key devices verify with, and operator API keys. */
import type { FastifyPluginAsync } from 'fastify';
import {
  ApiKeyResponse,
  CreateApiKeyRequest,
  HTTP_ROUTES,
  SigningKeyResponse,
  type Role,
} from '../../protocol/index.ts';
import { errorResponses, js, parse } from './schemas.ts';

export interface KeyApi {
  signingKeyResponse(): SigningKeyResponse;
  createApiKey(role: Role, name: string | null): Promise<ApiKeyResponse>;
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
};
