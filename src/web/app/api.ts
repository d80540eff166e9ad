/**
 * The dashboard's client of the control plane's HTTP API (same origin): Bearer API key, responses
 * checked against protocol/'s zod schemas, and every failure turned into one message a person can
 * act on (wrong key, unreachable cloud, the server's own `{error: {code, message}}`).
 */
import type { z } from 'zod';
import { ErrorResponse, HTTP_PATHS } from '../../protocol/browser.ts';

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** HTTP status; 0 when the control plane could not be reached. */
    readonly status: number,
  ) {
    super(message);
  }
}

/** A request that could not reach the control plane (network down, server stopped). */
export const isUnreachable = (e: unknown): boolean => e instanceof ApiError && e.status === 0;

export class ApiClient {
  constructor(
    readonly apiKey: string,
    readonly base = location.origin,
  ) {}

  async get<S extends z.ZodType>(path: string, schema: S): Promise<z.infer<S>> {
    return this.request('GET', path, schema);
  }

  async post<S extends z.ZodType>(path: string, body: unknown, schema: S): Promise<z.infer<S>> {
    return this.request('POST', path, schema, body);
  }

  /**
   * An artifact's bytes as an object URL of `type` (revoke it when done); an SVG shown through
   * <img> this way is an image only: its scripts, if any, never run.
   */
  async objectUrl(path: string, type: string): Promise<string> {
    let res: Response;
    try {
      res = await fetch(this.base + path, { headers: { authorization: `Bearer ${this.apiKey}` } });
    } catch {
      throw new ApiError('E_NETWORK', `cannot reach the control plane at ${this.base}`, 0);
    }
    if (!res.ok) throw new ApiError('E_PROTOCOL', `GET ${path}: HTTP ${res.status}`, res.status);
    return URL.createObjectURL(new Blob([await res.arrayBuffer()], { type }));
  }

  private async request<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    body?: unknown,
  ): Promise<z.infer<S>> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: {
          authorization: `Bearer ${this.apiKey}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch {
      throw new ApiError('E_NETWORK', `cannot reach the control plane at ${this.base}`, 0);
    }
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      throw new ApiError(
        'E_PROTOCOL',
        `${method} ${path}: the control plane answered HTTP ${res.status} without JSON`,
        res.status,
      );
    }
    if (!res.ok) {
      const err = ErrorResponse.safeParse(json);
      if (err.success) throw new ApiError(err.data.error.code, err.data.error.message, res.status);
      throw new ApiError('E_PROTOCOL', `${method} ${path}: HTTP ${res.status}`, res.status);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success)
      throw new ApiError(
        'E_PROTOCOL',
        `${method} ${path}: unexpected answer (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}); is the dashboard newer than the control plane?`,
        res.status,
      );
    return parsed.data;
  }
}

export { HTTP_PATHS };
