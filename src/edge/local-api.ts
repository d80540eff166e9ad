/**
 * The agent's local inference API (Fastify, built by a function so tests inject into it without a
 * socket):
 *   POST /v1/models/<name>:predict   JSON tensors, or a binary float32 body (see below)
 *   GET  /v1/models                  what this agent serves
 *   GET  /v1/agent                   identity, cloud connection, telemetry backlog
 *   GET  /metrics                    Prometheus text
 *   GET  /healthz
 *
 * Binary form: `Content-Type: application/octet-stream`, the body is little-endian float32 values,
 * `X-Verge-Dims: 1,1,28,28` gives the shape and `X-Verge-Input` the input name (default: the model's
 * only input). With `Accept: application/octet-stream` the answer is the first output (or
 * `X-Verge-Output`) as raw little-endian values with the same headers; otherwise it is JSON.
 *
 * Audio form: `Content-Type: audio/wav` with a WAV file as the body, for models that take a
 * waveform (speech recognizers): decoded and resampled by audio-request.ts.
 *
 * Raw forms, for models verge trained: `image/png|jpeg|webp`, `text/plain`, `text/csv` bodies,
 * prepared as the model's training data was (raw-request.ts); the answer adds `predictions`.
 */
import { createServer } from 'node:http';
import { availableParallelism } from 'node:os';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { VergeError, isVergeError } from '../errors.ts';
import { allocate, type DType } from '../onnx/browser.ts';
import {
  AGENT_API_PATHS,
  AGENT_BINARY_HEADERS as H,
  AgentInfoResponse,
  ErrorResponse,
  HealthResponse,
  LocalModelsResponse,
  PredictRequest,
  PredictResponse,
  errorReply,
  type JsonTensor,
} from '../protocol/index.ts';
import { ORT_DTYPES, type TensorValue } from '../runtime/index.ts';
import { WAV_CONTENT_TYPES, isWavContentType, wavRequestFeeds } from './audio-request.ts';
import { IMAGE_CONTENT_TYPES, isRawContentType, rawPredictions, rawRequestFeeds } from './raw-request.ts';
import { predictedClasses, type InferenceStats } from './inference-stats.ts';
import { localApiGuard } from './local-api-auth.ts';
import { PredictAdmission, type SlotRelease } from './predict-admission.ts';
import type { LoadedModel, ServedModels, TensorSpec } from './served-models.ts';

/** Largest request body: a batch of 256 RGB 224×224 float32 images as JSON is ~150 MB; 64 MB covers binary ones and JSON batches of small images. */
export const MAX_BODY_BYTES = 64 * 2 ** 20;

/**
 * What one predict request may cost the agent. A 21,000-sample batch once took 37 s and 2-3 GB
 * and froze every other request; these bound a request's size and the number in flight.
 */
export interface PredictLimits {
  /** Largest first dimension (batch) of any input. */
  maxBatch: number;
  /** Largest number of values over all inputs of one request (4 Mi float32 = 16 MiB). */
  maxValues: number;
  /** Predictions running at once. */
  concurrency: number;
  /** Requests waiting for a slot; beyond this the agent answers 429 E_OVERLOADED at once. */
  queue: number;
  /** Deadline of a request from arrival to answer (waiting included): 503 E_TIMEOUT. */
  timeoutMs: number;
  /** The whole request (headers and body) must arrive within this; a slower client is cut off. */
  receiveTimeoutMs: number;
  maxBodyBytes: number;
}
export const DEFAULT_PREDICT_LIMITS: Readonly<PredictLimits> = Object.freeze({
  maxBatch: 1024,
  maxValues: 4 * 2 ** 20,
  concurrency: Math.max(1, Math.min(4, availableParallelism())),
  queue: 32,
  timeoutMs: 30_000,
  receiveTimeoutMs: 30_000,
  maxBodyBytes: MAX_BODY_BYTES,
});
/** Seconds a 429 answer asks the client to wait (Retry-After). */
const RETRY_AFTER_S = 1;

export interface LocalApiOptions {
  served: ServedModels;
  stats: InferenceStats;
  /** Extra facts for GET /v1/agent (device id, connection state, telemetry backlog...). */
  agentInfo?: () => Record<string, unknown>;
  logger?: boolean;
  /**
   * Runs after each successful local prediction (the edge data loop: offload, collection). May
   * replace the outputs (a cloud answer); `answered_by` then goes into the response.
   */
  afterPredict?: (
    m: LoadedModel,
    feeds: Record<string, TensorValue>,
    outputs: Record<string, TensorValue>,
  ) => Promise<{ outputs: Record<string, TensorValue>; answered_by: 'edge' | 'cloud'; offload?: unknown }>;
  /** Request caps and load shedding (defaults: DEFAULT_PREDICT_LIMITS). */
  limits?: Partial<PredictLimits>;
  /** Bearer token every route but /healthz requires (local-api-auth.ts); none: loopback callers only. */
  apiToken?: string;
}

/**
 * Element types a JSON input may have: those onnxruntime takes, except float16 (its storage is raw
 * half-precision bits, which JSON numbers are not) and string (the data must be numbers).
 */
const JSON_DTYPES: readonly DType[] = ORT_DTYPES.filter((d) => d !== 'float16' && d !== 'string');

function sendError(reply: FastifyReply, e: unknown): FastifyReply {
  const { status, body } = errorReply(e);
  return reply.code(status).send(body);
}

/** zod → JSON schema for a route's response (protocol/ is the source of truth). */
function responseSchema(schema: z.ZodType): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { target: 'draft-7', unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}
const errorSchema = responseSchema(ErrorResponse);
const errors = { 400: errorSchema, 404: errorSchema, 422: errorSchema, 500: errorSchema };

function specFor(model: LoadedModel, name: string): TensorSpec {
  const spec = model.inputs.find((i) => i.name === name);
  if (!spec) {
    throw new VergeError(
      'E_INPUT_MISSING',
      `model '${model.name}' has no input '${name}' (inputs: ${model.inputs.map((i) => i.name).join(', ')})`,
    );
  }
  return spec;
}

function checkDims(model: LoadedModel, spec: TensorSpec, dims: number[]): void {
  if (!Array.isArray(dims) || dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new VergeError('E_BAD_ARGUMENT', `input '${spec.name}': dims must be a list of non-negative integers`);
  }
  if (!spec.shape) return;
  const want = spec.shape;
  const wrong = want.length !== dims.length || want.some((d, i) => typeof d === 'number' && d > 0 && d !== dims[i]);
  if (wrong) {
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `input '${spec.name}' of model '${model.name}' has shape [${want.map((d) => d ?? '?').join(', ')}], got [${dims.join(', ')}]`,
    );
  }
}

function count(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function jsonToTensor(model: LoadedModel, name: string, t: JsonTensor): TensorValue {
  const spec = specFor(model, name);
  if (!t || typeof t !== 'object' || !Array.isArray(t.dims) || !Array.isArray(t.data)) {
    throw new VergeError('E_BAD_ARGUMENT', `input '${name}' must be {"dims": [...], "data": [...]}`);
  }
  checkDims(model, spec, t.dims);
  const dtype = (t.dtype ?? (spec.dtype === 'unknown' ? 'float32' : spec.dtype)) as DType;
  if (!JSON_DTYPES.includes(dtype))
    throw new VergeError('E_UNSUPPORTED', `input '${name}': dtype ${dtype} cannot be sent as JSON`);
  if (spec.dtype !== 'unknown' && dtype !== spec.dtype) {
    throw new VergeError(
      'E_DTYPE_MISMATCH',
      `input '${name}' of model '${model.name}' is ${spec.dtype}, request says ${dtype}`,
    );
  }
  const n = count(t.dims);
  if (t.data.length !== n) {
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `input '${name}': dims [${t.dims.join(', ')}] need ${n} values, got ${t.data.length}`,
    );
  }
  const data = allocate(dtype, n);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) data[i] = BigInt(Math.trunc(Number(t.data[i])));
  } else {
    const arr = data as Float32Array;
    for (let i = 0; i < n; i++) {
      const v = t.data[i];
      if (typeof v !== 'number' && typeof v !== 'boolean') {
        throw new VergeError('E_BAD_ARGUMENT', `input '${name}': data[${i}] is not a number`);
      }
      arr[i] = Number(v);
    }
  }
  return { dtype, dims: [...t.dims], data };
}

export function tensorToJson(t: TensorValue): { dims: number[]; dtype: string; data: (number | null)[] } {
  const data: (number | null)[] = new Array(t.data.length);
  const src = t.data as ArrayLike<number | bigint>;
  for (let i = 0; i < src.length; i++) {
    const v = Number(src[i]);
    data[i] = Number.isFinite(v) ? v : null; // what JSON.stringify writes for NaN and ±Infinity
  }
  return { dims: t.dims, dtype: t.dtype, data };
}

function parseDimsHeader(value: string | string[] | undefined): number[] {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) throw new VergeError('E_BAD_ARGUMENT', 'a binary request needs an X-Verge-Dims header, e.g. "1,1,28,28"');
  const dims = raw.split(',').map((s) => Number(s.trim()));
  if (dims.some((d) => !Number.isInteger(d) || d < 0))
    throw new VergeError('E_BAD_ARGUMENT', `X-Verge-Dims '${raw}' is not a list of integers`);
  return dims;
}

function binaryToTensor(
  model: LoadedModel,
  body: Buffer,
  headers: Record<string, string | string[] | undefined>,
): Record<string, TensorValue> {
  const inputHeader = headers[H.input];
  const name =
    (Array.isArray(inputHeader) ? inputHeader[0] : inputHeader) ??
    (model.inputs.length === 1 ? model.inputs[0]!.name : undefined);
  if (!name) {
    throw new VergeError(
      'E_INPUT_MISSING',
      `model '${model.name}' has several inputs; name one with X-Verge-Input (${model.inputs.map((i) => i.name).join(', ')})`,
    );
  }
  const spec = specFor(model, name);
  const dims = parseDimsHeader(headers[H.dims]);
  checkDims(model, spec, dims);
  if (spec.dtype !== 'float32' && spec.dtype !== 'unknown') {
    throw new VergeError(
      'E_DTYPE_MISMATCH',
      `the binary form carries float32; input '${name}' is ${spec.dtype} (use JSON)`,
    );
  }
  const n = count(dims);
  if (body.length !== n * 4) {
    throw new VergeError(
      'E_SHAPE_MISMATCH',
      `binary body has ${body.length} bytes; dims [${dims.join(', ')}] of float32 need ${n * 4}`,
    );
  }
  // Copy into an aligned buffer: Fastify's body may sit at any byte offset of a shared pool.
  const data = new Float32Array(n);
  new Uint8Array(data.buffer).set(body);
  return { [name]: { dtype: 'float32', dims, data } };
}

/**
 * The model's input tensors from a predict request, by its content type: the binary form
 * (application/octet-stream), a WAV file for audio models (audio/wav), an image, a text or CSV
 * rows (raw-request.ts), or JSON tensors. Other encodings add a branch here.
 */
export async function requestFeeds(
  m: LoadedModel,
  body: unknown,
  headers: Record<string, string | string[] | undefined>,
): Promise<Record<string, TensorValue>> {
  const ctype = String(headers['content-type'] ?? '');
  if (ctype.startsWith('application/octet-stream')) return binaryToTensor(m, body as Buffer, headers);
  if (isWavContentType(ctype)) return wavRequestFeeds(m, body as Buffer);
  if (isRawContentType(ctype)) return rawRequestFeeds(m, ctype, body);
  const parsed = PredictRequest.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `request body must be {"inputs": {"<input>": {"dims": [...], "data": [...]}}}${issue ? ` (${issue.path.join('.') || 'body'}: ${issue.message})` : ''}`,
    );
  }
  const feeds: Record<string, TensorValue> = {};
  for (const [k, v] of Object.entries(parsed.data.inputs)) feeds[k] = jsonToTensor(m, k, v);
  for (const spec of m.inputs) {
    if (!(spec.name in feeds)) {
      throw new VergeError(
        'E_INPUT_MISSING',
        `model '${m.name}' needs input '${spec.name}' (${spec.dtype} [${(spec.shape ?? []).map((d) => d ?? '?').join(', ')}])`,
      );
    }
  }
  return feeds;
}

export function modelSummary(m: LoadedModel): Record<string, unknown> {
  return {
    name: m.name,
    version: m.version,
    variant: m.variant,
    sha256: m.sha256,
    inputs: m.inputs,
    outputs: m.outputs,
    loaded_at: new Date(m.loadedAt).toISOString(),
  };
}

/**
 * Long because: the agent's Fastify app in one closure, as Fastify plugins are written: hooks
 * (auth, admission), body parsers and a dozen routes of a few lines each over the served models.
 */
export function buildLocalApi(opts: LocalApiOptions): FastifyInstance {
  const { served, stats } = opts;
  const limits: PredictLimits = { ...DEFAULT_PREDICT_LIMITS, ...opts.limits };
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: limits.maxBodyBytes,
    // Node checks requestTimeout every connectionsCheckingInterval (30 s by default): check often
    // enough that a client trickling its body is cut off close to the limit
    serverFactory: (handler) =>
      createServer(
        {
          requestTimeout: limits.receiveTimeoutMs,
          connectionsCheckingInterval: Math.min(1000, limits.receiveTimeoutMs),
        },
        handler,
      ),
  });
  const admission = new PredictAdmission(limits.concurrency, limits.queue);
  const slots = new WeakMap<FastifyRequest, { release?: SlotRelease; deadline: number }>();
  /** The request's slot, now owned by the caller (who releases it when the work ends). */
  const takeSlot = (req: FastifyRequest): SlotRelease => {
    const s = slots.get(req);
    const release = s?.release ?? (() => undefined);
    if (s) s.release = undefined;
    return release;
  };
  // who may call: checked first, so a refused caller takes no slot and sends no body
  const guard = localApiGuard(opts.apiToken);
  app.addHook('onRequest', async (req) => guard(req));
  // a predict request takes its slot before its body is read: a refused one costs no buffering
  app.addHook('onRequest', async (req) => {
    if (req.method !== 'POST' || !req.url.startsWith(AGENT_API_PATHS.models + '/')) return;
    const deadline = Date.now() + limits.timeoutMs;
    slots.set(req, { deadline });
    const release = await admission.acquire(limits.timeoutMs);
    slots.set(req, { deadline, release });
  });
  // a request answered before its handler ran (bad body, 404) or abandoned gives its slot back
  const giveBack = async (req: FastifyRequest) => takeSlot(req)();
  app.addHook('onResponse', giveBack);
  app.addHook('onRequestAbort', giveBack);
  app.addHook('onSend', async (req, reply) => {
    if (reply.statusCode === 429) reply.header('retry-after', String(RETRY_AFTER_S));
  });

  // what Fastify itself refuses (invalid JSON, body too large, unsupported type) answers in the one
  // error shape too, like every route does
  app.setErrorHandler((err, _req, reply) => sendError(reply, err));
  app.addContentTypeParser(
    'application/octet-stream',
    { parseAs: 'buffer', bodyLimit: limits.maxBodyBytes },
    (_req, body, done) => done(null, body),
  );
  app.addContentTypeParser(
    [...WAV_CONTENT_TYPES, ...IMAGE_CONTENT_TYPES],
    { parseAs: 'buffer', bodyLimit: limits.maxBodyBytes },
    (_req, body, done) => done(null, body),
  );
  app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: limits.maxBodyBytes }, (_req, body, done) =>
    done(null, body),
  );

  // unknown routes answer in the one error shape too
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, new VergeError('E_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]} (see GET /)`)),
  );
  // `GET /` points to the API instead of a 404
  app.get('/', async () => ({
    name: 'verge agent',
    api: {
      predict: 'POST /v1/models/<name>:predict',
      models: `GET ${AGENT_API_PATHS.models}`,
      agent: `GET ${AGENT_API_PATHS.agent}`,
      health: `GET ${AGENT_API_PATHS.health}`,
      metrics: `GET ${AGENT_API_PATHS.metrics}`,
    },
    docs: 'docs/edge.md in the verge package',
  }));
  app.get(AGENT_API_PATHS.health, { schema: { response: { 200: responseSchema(HealthResponse) } } }, async () => ({
    ok: true,
    models: served.names().length,
  }));
  app.get(AGENT_API_PATHS.models, { schema: { response: { 200: responseSchema(LocalModelsResponse) } } }, async () => ({
    models: served.list().map(modelSummary),
  }));
  app.get(AGENT_API_PATHS.agent, { schema: { response: { 200: responseSchema(AgentInfoResponse) } } }, async () => ({
    ...(opts.agentInfo?.() ?? {}),
    models: served.list().map(modelSummary),
  }));
  app.get(AGENT_API_PATHS.metrics, async (_req, reply) => {
    stats.modelsLoaded.set(served.names().length);
    reply.header('content-type', stats.registry.contentType);
    return stats.metricsText();
  });

  /** One prediction, start to end; never throws (an error is an answer too). */
  async function predict(target: string, body: unknown, headers: FastifyRequest['headers']): Promise<PredictAnswer> {
    const colon = target.lastIndexOf(':');
    const name = colon > 0 ? target.slice(0, colon) : target;
    const verb = colon > 0 ? target.slice(colon + 1) : '';
    if (verb !== 'predict')
      return errorAnswer(
        new VergeError('E_NOT_FOUND', `unknown verb '${verb || '(none)'}': use POST /v1/models/${name}:predict`),
      );
    let lease;
    try {
      lease = served.lease(name);
    } catch (e) {
      return errorAnswer(e);
    }
    const m = lease.model;
    const started = performance.now();
    let running = false;
    try {
      const feeds = await requestFeeds(m, body, headers);
      checkRequestSize(feeds, limits);
      running = true;
      const localOutputs = await lease.run(feeds);
      running = false;
      const ms = performance.now() - started;
      const loop = opts.afterPredict ? await opts.afterPredict(m, feeds, localOutputs) : undefined;
      const outputs = loop?.outputs ?? localOutputs;
      const first = Object.values(outputs)[0];
      stats.record(m, ms, true, first ? predictedClasses(first.dims, first.data as ArrayLike<number>) : undefined);
      const modelInfo = { name: m.name, version: m.version, variant: m.variant };
      const loopInfo = loop
        ? { answered_by: loop.answered_by, ...(loop.offload ? { offload: loop.offload } : {}) }
        : {};
      if (String(headers.accept ?? '').includes('application/octet-stream')) {
        const outHeader = headers[H.output];
        const outName = (Array.isArray(outHeader) ? outHeader[0] : outHeader) ?? Object.keys(outputs)[0]!;
        const t = outputs[outName];
        if (!t) throw new VergeError('E_NOT_FOUND', `model '${m.name}' has no output '${outName}'`);
        const view = t.data as Float32Array;
        return {
          kind: 'binary',
          headers: {
            'content-type': 'application/octet-stream',
            [H.output]: outName,
            [H.dims]: t.dims.join(','),
            [H.dtype]: t.dtype,
            [H.model]: `${m.name}@${m.version}#${m.variant}`,
            ...(loop ? { [H.answeredBy]: loop.answered_by } : {}),
          },
          body: Buffer.from(view.buffer, view.byteOffset, view.byteLength),
        };
      }
      const out: Record<string, ReturnType<typeof tensorToJson>> = {};
      for (const [k, v] of Object.entries(outputs)) out[k] = tensorToJson(v);
      const raw = isRawContentType(String(headers['content-type'] ?? ''));
      return {
        kind: 'json',
        body: {
          outputs: out,
          model: modelInfo,
          ...loopInfo,
          ...(raw ? { predictions: rawPredictions(m, outputs) } : {}),
        },
      };
    } catch (e) {
      // A request refused by validation is the caller's fault; a model that fails on a valid
      // request is the model's, counts against its health, and answers 500.
      if (running) {
        stats.record(m, performance.now() - started, false);
        const err = isVergeError(e) ? e : new VergeError('E_RUNTIME', String(e));
        return { kind: 'error', status: 500, body: { error: { code: err.code, message: err.message } } };
      }
      return errorAnswer(e);
    } finally {
      lease.release();
    }
  }

  // `<name>:predict` is one path segment; the verb after the colon is parsed here rather than by the router.
  const predictSchema = { response: { 200: responseSchema(PredictResponse), ...errors } };
  app.post<{ Params: { target: string } }>(AGENT_API_PATHS.modelVerb, { schema: predictSchema }, async (req, reply) => {
    const release = takeSlot(req);
    const work = predict(req.params.target, req.body, req.headers);
    work.then(release, release); // a run outlives a timed-out answer: its slot frees when it ends
    const left = (slots.get(req)?.deadline ?? Date.now() + limits.timeoutMs) - Date.now();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new VergeError('E_TIMEOUT', `prediction not done within ${limits.timeoutMs} ms`)),
        Math.max(0, left),
      );
    });
    try {
      const answer = await Promise.race([work, deadline]);
      if (answer.kind === 'error') return reply.code(answer.status).send(answer.body);
      if (answer.kind === 'binary') {
        for (const [k, v] of Object.entries(answer.headers)) reply.header(k, v);
        return reply.send(answer.body);
      }
      return answer.body;
    } catch (e) {
      return sendError(reply, e);
    } finally {
      clearTimeout(timer);
    }
  });
  return app;
}

type PredictAnswer =
  | { kind: 'json'; body: Record<string, unknown> }
  | { kind: 'binary'; headers: Record<string, string>; body: Buffer }
  | { kind: 'error'; status: number; body: ErrorResponse };

function errorAnswer(e: unknown): PredictAnswer {
  const { status, body } = errorReply(e);
  return { kind: 'error', status, body };
}

/** Refuse inputs over the batch or value caps before they reach onnxruntime. */
function checkRequestSize(feeds: Record<string, TensorValue>, limits: PredictLimits): void {
  let values = 0;
  for (const [name, t] of Object.entries(feeds)) {
    if (t.dims.length > 1 && t.dims[0]! > limits.maxBatch)
      throw new VergeError(
        'E_TOO_LARGE',
        `input '${name}' has a batch of ${t.dims[0]}; at most ${limits.maxBatch} per request`,
      );
    values += t.data.length;
  }
  if (values > limits.maxValues)
    throw new VergeError(
      'E_TOO_LARGE',
      `the request has ${values} input values; at most ${limits.maxValues} per request`,
    );
}
