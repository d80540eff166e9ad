/**
 * GET /v1/events: server-sent events telling operators' live views what changed (FleetEvent, see
 * protocol/http.ts), so the dashboard re-reads on change instead of polling. Any operator key may
 * listen; the events name a topic only, never data. Streams are bounded in number and end when the
 * control plane closes.
 */
import type { FastifyPluginAsync } from 'fastify';
import { VergeError } from '../../errors.ts';
import { FLEET_EVENT_NAME, HTTP_ROUTES } from '../../protocol/index.ts';
import type { FleetListener } from '../fleet-events.ts';
import { errorResponses } from './schemas.ts';

export interface EventsApi {
  subscribe(listener: FleetListener): () => void;
}

/** Open streams at most (each holds a socket): a few dashboards per operator is plenty. */
export const MAX_EVENT_STREAMS = 64;
/** A comment line this often keeps idle streams open through proxies and lets clients notice a dead one. */
export const EVENT_PING_MS = 15_000;

export const eventRoutes: FastifyPluginAsync<{ events: EventsApi }> = async (app, { events }) => {
  const open = new Set<() => void>();
  // a stream never ends by itself: end them all, or closing the server would wait for them forever
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });

  app.get(
    HTTP_ROUTES.events,
    {
      config: { auth: 'read' },
      schema: {
        tags: ['operators'],
        description:
          'Server-sent events (text/event-stream): `event: fleet`, `data: {"topic": …, "at": …}` after a change is stored.',
        response: { ...errorResponses, 429: errorResponses[400] },
      },
    },
    async (req, reply) => {
      if (open.size >= MAX_EVENT_STREAMS)
        throw new VergeError(
          'E_OVERLOADED',
          `this control plane already serves ${MAX_EVENT_STREAMS} live event streams; close another dashboard`,
        );
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      res.write(': verge fleet events\n\n');
      const unsubscribe = events.subscribe((e) =>
        res.write(`event: ${FLEET_EVENT_NAME}\ndata: ${JSON.stringify(e)}\n\n`),
      );
      const ping = setInterval(() => res.write(': ping\n\n'), EVENT_PING_MS);
      const end = () => {
        if (!open.delete(end)) return;
        clearInterval(ping);
        unsubscribe();
        res.end();
      };
      open.add(end);
      req.raw.on('close', end);
      res.on('error', end);
    },
  );
};
