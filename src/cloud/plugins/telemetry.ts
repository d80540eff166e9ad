/** Telemetry as operators read it: totals and latency quantiles per model, version and variant. */
import type { FastifyPluginAsync } from 'fastify';
import { HTTP_ROUTES, TelemetrySummaryResponse } from '../../protocol/index.ts';
import { TELEMETRY_PAGE_DEFAULT, TELEMETRY_PAGE_MAX, type SummaryPage } from '../telemetry.ts';
import { errorResponses, js } from './schemas.ts';

export interface TelemetryApi {
  summary(since: number, model: string | undefined, page: SummaryPage): Promise<TelemetrySummaryResponse>;
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
          properties: {
            model: { type: 'string', maxLength: 128 },
            since: { type: 'string', pattern: '^[0-9]{1,16}$' },
            limit: { type: 'string', pattern: '^[0-9]{1,6}$' },
            offset: { type: 'string', pattern: '^[0-9]{1,9}$' },
          },
        },
        response: { 200: js(TelemetrySummaryResponse), ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query as { model?: string; since?: string; limit?: string; offset?: string };
      const since = q.since ? Number(q.since) : Date.now() - TELEMETRY_SUMMARY_WINDOW_MS;
      const limit = Math.max(1, Math.min(TELEMETRY_PAGE_MAX, Number(q.limit ?? TELEMETRY_PAGE_DEFAULT)));
      return telemetry.summary(since, q.model, { limit, offset: Number(q.offset ?? 0) });
    },
  );
};
