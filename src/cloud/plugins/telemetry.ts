/**
 * Telemetry as operators read it: totals and latency quantiles per model, version and variant, and
 * one device's series over time (the dashboard's device page).
 */
import type { FastifyPluginAsync } from 'fastify';
import { DeviceTelemetryResponse, HTTP_ROUTES, TelemetrySummaryResponse } from '../../protocol/index.ts';
import { TELEMETRY_PAGE_DEFAULT, TELEMETRY_PAGE_MAX, type SummaryPage } from '../telemetry.ts';
import { errorResponses, idParam, js } from './schemas.ts';

export interface TelemetryApi {
  summary(since: number, model: string | undefined, page: SummaryPage): Promise<TelemetrySummaryResponse>;
  /** One device (id or name) as a series; bad bounds are E_BAD_ARGUMENT, an unknown device E_NOT_FOUND. */
  deviceSeries(device: string, q: { since?: number; bucketS?: number }): Promise<DeviceTelemetryResponse>;
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

  app.get(
    HTTP_ROUTES.deviceTelemetry,
    {
      config: { auth: 'read' },
      schema: {
        tags: ['operators'],
        params: idParam,
        querystring: {
          type: 'object',
          properties: {
            since: { type: 'string', pattern: '^[0-9]{1,15}$' },
            bucket_s: { type: 'string', pattern: '^[0-9]{1,6}$' },
          },
        },
        response: { 200: js(DeviceTelemetryResponse), ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query as { since?: string; bucket_s?: string };
      return telemetry.deviceSeries((req.params as { id: string }).id, {
        ...(q.since ? { since: Number(q.since) } : {}),
        ...(q.bucket_s ? { bucketS: Number(q.bucket_s) } : {}),
      });
    },
  );
};
