/**
 * Route schema helpers shared by the control plane's plugins: request/response JSON schemas come
 * from protocol/'s zod definitions (z.toJSONSchema), which also feed the OpenAPI document.
 */
import { z } from 'zod';
import { VergeError } from '../../errors.ts';
import { deepFreeze } from '../../frozen.ts';
import { ErrorResponse } from '../../protocol/index.ts';

/** zod → JSON schema (draft-07, what Fastify's Ajv speaks). */
export function js(schema: z.ZodType, io: 'input' | 'output' = 'output'): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { target: 'draft-7', io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

/** Validate with zod too: applies defaults and refinements JSON schema cannot express. */
export function parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body ?? {});
  if (!r.success)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
    );
  return r.data;
}

/** Shared by every route, so frozen: Fastify, Ajv and the OpenAPI generator only read it. */
const errorSchema = deepFreeze(js(ErrorResponse));
/** Error responses every authenticated route may give. */
export const errorResponses = Object.freeze({
  400: errorSchema,
  401: errorSchema,
  403: errorSchema,
  404: errorSchema,
  409: errorSchema,
});

/** `:id` path parameter. */
export const idParam = deepFreeze({ type: 'object', properties: { id: { type: 'string' } }, required: ['id'] });
