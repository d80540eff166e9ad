/**
 * Who may call the agent's local API (finding 10 of issue 14: it had no authentication, and the
 * DaemonSet binds it to 0.0.0.0, so any pod or host on the network could run predictions — feeding
 * the edge data loop's collection and the cloud's offload — and read the agent's identity).
 *
 * - With a token (`verge agent --api-token-file`), every route but `GET /healthz` needs
 *   `Authorization: Bearer <token>`. An address other than loopback requires one.
 * - On loopback without a token, only local processes reach the API; what remains is a web page
 *   in a browser on the device: a request carrying `Origin` (browsers send it on cross-origin
 *   POSTs) is refused, and so is a `Host` that is a DNS name other than localhost (DNS rebinding
 *   makes a page's own name resolve to 127.0.0.1).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { VergeError } from '../errors.ts';
import { AGENT_API_PATHS } from '../protocol/index.ts';

/** Shortest token accepted: 128 bits as hex or base64 (a guessable token is no authentication). */
export const MIN_API_TOKEN_CHARS = 22;

/** A refused local-API request: 401 without (or with wrong) credentials, 403 for a browser page. */
export class LocalApiAuthError extends VergeError {
  constructor(
    readonly statusCode: 401 | 403,
    message: string,
  ) {
    super('E_AUTH', message);
  }
}

/** 127.0.0.0/8, ::1, localhost (and IPv4-mapped loopback): reachable only from this host. */
export function isLoopbackAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** Refuse to serve on a network address without a token, and tokens too short to be secret. */
export function checkApiBinding(host: string, token: string | undefined): void {
  if (token !== undefined && token.length < MIN_API_TOKEN_CHARS)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `the local API token has ${token.length} characters; use at least ${MIN_API_TOKEN_CHARS} random ones (e.g. \`openssl rand -hex 32\`)`,
    );
  if (token === undefined && !isLoopbackAddress(host))
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `the local API on ${host} would be reachable from the network without authentication: give --api-token-file (or bind 127.0.0.1)`,
    );
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** The host name of a Host header value (`name:port`, `[v6]:port`). */
function hostName(header: string): string {
  const m = /^\[([^\]]*)\]/.exec(header);
  if (m) return m[1]!;
  const colon = header.lastIndexOf(':');
  return colon >= 0 && header.indexOf(':') === colon ? header.slice(0, colon) : header;
}

/**
 * The onRequest check of the local API (runs before a body is read or a predict slot is taken).
 * Throws LocalApiAuthError for a refused request.
 */
export function localApiGuard(token: string | undefined): (req: FastifyRequest) => void {
  const expected = token === undefined ? undefined : digest(token);
  return (req) => {
    if (req.method === 'GET' && req.url.split('?')[0] === AGENT_API_PATHS.health) return;
    if (req.headers.origin !== undefined)
      throw new LocalApiAuthError(403, 'web pages may not call the agent API (the request carries an Origin header)');
    if (expected === undefined) {
      const name = hostName(req.headers.host ?? '');
      if (isIP(name) === 0 && name.toLowerCase() !== 'localhost')
        throw new LocalApiAuthError(403, `Host '${name}' is not this agent's address (use 127.0.0.1 or localhost)`);
      return;
    }
    const auth = req.headers.authorization ?? '';
    const given = auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
    if (given === undefined)
      throw new LocalApiAuthError(401, 'authentication required (Authorization: Bearer <local API token>)');
    if (!timingSafeEqual(digest(given), expected)) throw new LocalApiAuthError(401, 'wrong local API token');
  };
}
