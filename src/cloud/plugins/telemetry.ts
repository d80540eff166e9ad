/** Telemetry as operators read it: totals and latency quantiles per model, version and variant. */
import type { FastifyPluginAsync } from 'fastify';
import { HTTP_ROUTES, TelemetrySummaryResponse } from '../../protocol/index.ts';
import { errorResponses, js } from './schemas.ts';

export interface TelemetryApi {
  summary(since: number, model?: string): Promise<TelemetrySummaryResponse>;
}

/** Default window of GET /v1/telemetry: the last hour, what an operator looks at after a rollout. */
const TELEMETRY_SUMMARY_WINDOW_MS = 3600_000;

export const telemetryRoutes: FastifyPluginAsync<{ telemetry: TelemetryApi }> = async (app, { telemetry }) => {
  app.get(
    HTTP_ROUTES.telemetry,
    {
      config: { auth: 'read' },
      schema: {
        tags: ['operators'],
        querystring: {
          type: 'object',
          properties: { model: { type: 'string' }, since: { type: 'string', pattern: '^[0-9]+$' } },
        },
        response: { 200: js(TelemetrySummaryResponse), ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query as { model?: string; since?: string };
      const since = q.since ? Number(q.since) : Date.now() - TELEMETRY_SUMMARY_WINDOW_MS;
      return telemetry.summary(since, q.model);
    },
  );
};
