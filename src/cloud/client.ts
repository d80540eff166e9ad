/**
 * Operator-side HTTP client of the control plane, used by the CLI commands. Finds the cloud via
 * --cloud / VERGE_CLOUD and the key via --api-key / VERGE_API_KEY / <data-dir>/admin.key.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VergeError, type ErrorCode } from '../errors.ts';
import { HTTP_PATHS, isTerminalDeploymentState, type Deployment } from '../protocol/index.ts';
import { ADMIN_KEY_FILE } from './secrets.ts';

export interface CloudConnection {
  url: string;
  apiKey: string | null;
  /** HTTP client (e.g. one trusting a private CA); default: global fetch (NODE_EXTRA_CA_CERTS applies). */
  fetch?: typeof fetch;
}

/** Default API URL of a local `verge cloud` (its default --port). */
export const DEFAULT_CLOUD_URL = 'http://127.0.0.1:8080';
/** Per-request timeout: long enough for a large upload's response, short enough to report a hung cloud. */
const REQUEST_TIMEOUT_MS = 120_000;

export function resolveCloud(opts: {
  cloud?: string;
  apiKey?: string;
  /** The key read from a file (`--api-key-file`). */
  apiKeyFile?: string;
  dataDir?: string;
}): CloudConnection {
  const url = (opts.cloud ?? process.env.VERGE_CLOUD ?? DEFAULT_CLOUD_URL).replace(/\/+$/, '');
  if (!/^https?:\/\//.test(url)) throw new VergeError('E_BAD_ARGUMENT', `--cloud must be an http(s) URL, got '${url}'`);
  let apiKey = opts.apiKey ?? opts.apiKeyFile ?? process.env.VERGE_API_KEY ?? null;
  const dataDir = opts.dataDir ?? process.env.VERGE_CLOUD_DATA_DIR;
  if (!apiKey && dataDir) {
    const p = join(dataDir, ADMIN_KEY_FILE);
    if (!existsSync(p))
      throw new VergeError(
        'E_AUTH',
        `no ${ADMIN_KEY_FILE} in ${dataDir} (has 'verge cloud --data-dir ${dataDir}' run?)`,
      );
    apiKey = readFileSync(p, 'utf8').trim();
  }
  return { url, apiKey };
}

export class CloudClient {
  constructor(readonly conn: CloudConnection) {}

  async request<T>(method: string, path: string, body?: unknown, opts: { raw?: Uint8Array } = {}): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.conn.apiKey) headers.authorization = `Bearer ${this.conn.apiKey}`;
    let payload: string | Uint8Array | undefined;
    if (opts.raw) {
      headers['content-type'] = 'application/octet-stream';
      payload = opts.raw;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await (this.conn.fetch ?? fetch)(this.conn.url + path, {
        method,
        headers,
        body: payload,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new VergeError(
        'E_NETWORK',
        `cannot reach the control plane at ${this.conn.url} (${cause?.code ?? cause?.message ?? (e as Error).message})`,
      );
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      throw new VergeError(
        'E_NETWORK',
        `${this.conn.url}${path} answered ${res.status} with non-JSON (is that a verge control plane?)`,
      );
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: string; message?: string } } | null)?.error;
      if (res.status === 401 && !this.conn.apiKey)
        throw new VergeError('E_AUTH', 'no API key: pass --api-key, set VERGE_API_KEY, or --data-dir of a local cloud');
      throw new VergeError((err?.code as ErrorCode) ?? 'E_INTERNAL', err?.message ?? `HTTP ${res.status}`);
    }
    return json as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }
  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }
  upload<T>(path: string, bytes: Uint8Array): Promise<T> {
    return this.request<T>('POST', path, undefined, { raw: bytes });
  }

  /** An artifact's bytes (`GET /v1/artifacts/<sha256>`), checked against its sha256. */
  async download(sha256: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Uint8Array> {
    const res = await (this.conn.fetch ?? fetch)(`${this.conn.url}${HTTP_PATHS.artifact(sha256)}`, {
      headers: this.conn.apiKey ? { authorization: `Bearer ${this.conn.apiKey}` } : {},
      signal: AbortSignal.timeout(timeoutMs),
    }).catch((e: Error) => {
      throw new VergeError('E_NETWORK', `cannot reach the cloud at ${this.conn.url}: ${e.message}`);
    });
    if (!res.ok) throw new VergeError('E_NETWORK', `artifact ${sha256.slice(0, 12)}: HTTP ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (createHash('sha256').update(bytes).digest('hex') !== sha256)
      throw new VergeError('E_INTEGRITY', `artifact ${sha256.slice(0, 12)} does not match its sha256`);
    return bytes;
  }
}

/** Poll period of `--wait`: fast enough to feel live, slow enough to be negligible load. */
const WAIT_POLL_MS = 500;

/**
 * Poll a deployment until it is final (succeeded, failed, rolled_back, superseded), a canary
 * passed its gate and waits for a manual promote, or `until` holds (e.g. "the canary loaded").
 * `onProgress` gets each polled state.
 */
export async function waitForDeployment(
  client: CloudClient,
  id: string,
  opts: {
    timeoutMs: number;
    onProgress?: (d: Deployment) => void;
    until?: (d: Deployment) => boolean;
    pollMs?: number;
  },
): Promise<Deployment> {
  const started = Date.now();
  for (;;) {
    const d = await client.get<Deployment>(HTTP_PATHS.deployment(id));
    opts.onProgress?.(d);
    const awaitingPromote = d.state === 'canary' && d.gate_passed_at !== null && !d.auto_promote;
    if (isTerminalDeploymentState(d.state) || awaitingPromote || opts.until?.(d)) return d;
    if (Date.now() - started > opts.timeoutMs) {
      throw new VergeError(
        'E_NETWORK',
        `deployment ${id} still ${d.state} after ${Math.round(opts.timeoutMs / 1000)}s (${summarize(d)})`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? WAIT_POLL_MS));
  }
}

/** `2/3 loaded, 1 pending` */
export function summarize(d: Deployment): string {
  const counts = new Map<string, number>();
  for (const x of d.devices) counts.set(x.state, (counts.get(x.state) ?? 0) + 1);
  return [...counts.entries()].map(([s, n]) => `${n} ${s}`).join(', ');
}
