/** Unversioned endpoints: health, Prometheus metrics, the OpenAPI document; and the fleet status. */
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import { HTTP_ROUTES, PROTOCOL_VERSION, SessionResponse, StatusResponse } from '../../protocol/index.ts';
import type { IngestHealth } from '../telemetry.ts';
import { errorResponses, js } from './schemas.ts';

export interface SystemApi {
  metrics: { registry: Registry };
  status(): Promise<StatusResponse>;
  /** Telemetry ingestion: a database that refuses writes makes the process unhealthy (503). */
  ingestion(): IngestHealth;
}

export const systemRoutes: FastifyPluginAsync<{ system: SystemApi }> = async (app, { system }) => {
  app.get(HTTP_ROUTES.health, { schema: { hide: true } }, async (_req, reply) => {
    const ingestion = system.ingestion();
    return reply.code(ingestion.stalled ? 503 : 200).send({ ok: !ingestion.stalled, ingestion });
  });

  app.get(HTTP_ROUTES.metrics, { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', system.metrics.registry.contentType);
    return system.metrics.registry.metrics();
  });

  app.get(HTTP_ROUTES.openapi, { schema: { hide: true } }, async () => app.swagger());

  app.get(
    HTTP_ROUTES.status,
    {
      config: { auth: 'read' },
      schema: { tags: ['operators'], response: { 200: js(StatusResponse), ...errorResponses } },
    },
    async () => system.status(),
  );

  app.get(
    HTTP_ROUTES.session,
    {
      config: { auth: 'read' },
      schema: { tags: ['operators'], response: { 200: js(SessionResponse), ...errorResponses } },
    },
    async (req): Promise<SessionResponse> => ({
      role: (req.principal as { role: SessionResponse['role'] }).role,
      protocol_version: PROTOCOL_VERSION,
    }),
  );
};
