/**
 * The agent's local inference API (served by every `verge agent`, docs/edge.md): request and
 * response shapes of `POST /v1/models/<name>:predict` (JSON form), the headers of its binary form,
 * and `GET /v1/models`. Applications on the device are its clients.
 */
import { z } from 'zod';

/** Local API paths. `<name>:predict` is one path segment (Google API style custom verb). */
export const AGENT_API_PATHS = Object.freeze({
  predict: (model: string) => `/v1/models/${encodeURIComponent(model)}:predict`,
  /** Route pattern of `predict` (and of any other verb on a model): the server splits `<name>:<verb>`. */
  modelVerb: '/v1/models/:target',
  models: '/v1/models',
  agent: '/v1/agent',
  metrics: '/metrics',
  health: '/healthz',
} as const);

/** Binary form: raw little-endian float32 body, shape and names in headers. */
export const AGENT_BINARY_HEADERS = Object.freeze({
  dims: 'x-verge-dims',
  input: 'x-verge-input',
  output: 'x-verge-output',
  dtype: 'x-verge-dtype',
  model: 'x-verge-model',
  /** Joint inference: `edge` or `cloud`. */
  answeredBy: 'x-verge-answered-by',
} as const);

export const JsonTensor = z.object({
  dims: z.array(z.number().int().nonnegative()).max(16),
  data: z.array(z.union([z.number(), z.boolean()])),
  /** Element type; default: the model input's. */
  dtype: z.string().max(16).optional(),
});
export type JsonTensor = z.infer<typeof JsonTensor>;

export const PredictRequest = z.object({ inputs: z.record(z.string().max(256), JsonTensor) });
export type PredictRequest = z.infer<typeof PredictRequest>;

export const PredictResponse = z.object({
  outputs: z.record(
    z.string(),
    // JSON has no NaN or ±Infinity: such values are null
    z.object({ dims: z.array(z.number().int()), dtype: z.string(), data: z.array(z.number().nullable()) }),
  ),
  model: z.object({ name: z.string(), version: z.string(), variant: z.string() }),
  /** Joint inference (edge-loop.ts): who produced `outputs`; absent = the edge model, no offload policy. */
  answered_by: z.enum(['edge', 'cloud']).optional(),
  /** Set when the request was offloaded: `ok`, or why the local answer was returned instead. */
  offload: z
    .object({
      outcome: z.enum(['ok', 'timeout', 'unreachable', 'refused']),
      ms: z.number(),
      model: z.string(),
      message: z.string().optional(),
    })
    .optional(),
  /** Raw-data requests (an image, a text, CSV rows): per sample, the top classes or a regression model's values. */
  predictions: z
    .array(
      z.object({
        class: z.number().int().optional(),
        label: z.string().optional(),
        probability: z.number().optional(),
        top: z
          .array(z.object({ index: z.number().int(), label: z.string().optional(), probability: z.number() }))
          .optional(),
        value: z.array(z.number().nullable()).optional(),
      }),
    )
    .optional(),
});
export type PredictResponse = z.infer<typeof PredictResponse>;

export const LocalTensorSpec = z.object({
  name: z.string(),
  dtype: z.string(),
  shape: z.array(z.union([z.number(), z.string(), z.null()])).nullable(),
});

export const LocalModel = z.object({
  name: z.string(),
  version: z.string(),
  variant: z.string(),
  sha256: z.string(),
  inputs: z.array(LocalTensorSpec),
  outputs: z.array(LocalTensorSpec),
  loaded_at: z.string(),
});
export const LocalModelsResponse = z.object({ models: z.array(LocalModel) });
export type LocalModelsResponse = z.infer<typeof LocalModelsResponse>;

/** GET /v1/agent: identity, connection, outbox backlog (fields may be added) and what it serves. */
export const AgentInfoResponse = z.looseObject({ models: z.array(LocalModel) });
export type AgentInfoResponse = z.infer<typeof AgentInfoResponse>;

export const HealthResponse = z.object({ ok: z.boolean(), models: z.number().int() });
