/**
 * Finding 12 (part): the agent's local API answered invalid JSON (and other requests Fastify
 * refuses itself) with Fastify's default error shape instead of `{"error":{"code","message"}}`.
 * Sent here to the real agent HTTP server on a socket.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { InferenceStats } from '../../src/edge/inference-stats.ts';
import { buildLocalApi } from '../../src/edge/local-api.ts';
import { ServedModels } from '../../src/edge/served-models.ts';

const api = buildLocalApi({ served: new ServedModels(), stats: new InferenceStats() });
let url: string;
beforeAll(async () => {
  await api.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(api.server.address() as { port: number }).port}`;
});
afterAll(() => api.close());

it('answers a malformed JSON body with the verge error shape', async () => {
  const res = await fetch(`${url}/v1/models/any:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"inputs": {',
  });
  expect(res.status).toBe(400);
  const body = (await res.json()) as Record<string, unknown>;
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toMatchObject({ code: 'E_BAD_ARGUMENT' });
  expect(typeof (body.error as { message: unknown }).message).toBe('string');
});
