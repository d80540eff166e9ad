/**
 * HTTP authentication: operators by API key (Bearer) with roles, devices by their enrollment
 * credentials (Basic). Each route declares `config.auth`; one onRequest hook enforces it.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { VergeError } from '../errors.ts';
import type { Role } from '../protocol/index.ts';
import { secretMatches } from './secrets.ts';
import { peerDevice } from './tls.ts';

/** What authentication needs to know: the role of an API key, a device's stored credentials. */
export interface Credentials {
  apiKeyRole(key: string): Promise<Role | null>;
  device(id: string): Promise<{ id: string; secret_hash: string; revoked_at: number | null } | null>;
  /**
   * Devices must also present the client certificate issued to them at enrollment (mTLS, tls.ts):
   * a stolen password alone does not authenticate.
   */
  requireClientCert?: boolean;
}

/** none: public; read: any operator key; admin: admin key; device: device credentials; device-or-read: either. */
export type AuthMode = 'none' | 'read' | 'admin' | 'device' | 'device-or-read';
export type Principal = { kind: 'operator'; role: Role } | { kind: 'device'; deviceId: string } | { kind: 'anonymous' };

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthMode;
    /** How long the body may take to arrive (http-app.ts BODY_TIMEOUT_MS by default). */
    bodyTimeoutMs?: number;
  }
  interface FastifyRequest {
    principal: Principal;
  }
}

/** A VergeError with an HTTP status (401 vs 403 both carry E_AUTH). */
export class HttpError extends VergeError {
  constructor(
    readonly statusCode: number,
    code: ConstructorParameters<typeof VergeError>[0],
    message: string,
  ) {
    super(code, message);
  }
}

async function identify(req: FastifyRequest, creds: Credentials): Promise<Principal> {
  const h = req.headers.authorization;
  if (!h) return { kind: 'anonymous' };
  const [scheme, value = ''] = h.split(' ', 2);
  if (scheme?.toLowerCase() === 'bearer') {
    const role = await creds.apiKeyRole(value.trim());
    if (!role) throw new HttpError(401, 'E_AUTH', 'unknown API key');
    return { kind: 'operator', role };
  }
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const id = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const dev = colon > 0 ? await creds.device(id) : null;
    if (!dev || dev.id !== id || !secretMatches(password, dev.secret_hash))
      throw new HttpError(401, 'E_AUTH', 'bad device credentials');
    if (dev.revoked_at !== null) throw new HttpError(403, 'E_AUTH', `device ${id} is revoked`);
    if (creds.requireClientCert && peerDevice(req.raw.socket) !== id)
      throw new HttpError(401, 'E_AUTH', `device ${id} must present its client certificate (issued at enrollment)`);
    return { kind: 'device', deviceId: id };
  }
  throw new HttpError(401, 'E_AUTH', `unsupported authorization scheme '${scheme}'`);
}

/**
 * The device a request authenticated as, for routes with `auth: 'device'` (the hook refused
 * anything else before the handler runs); anything else here is a route declared wrongly.
 */
export function requestDeviceId(req: FastifyRequest): string {
  const p = req.principal;
  if (p?.kind !== 'device') throw new HttpError(403, 'E_AUTH', 'this route is for devices');
  return p.deviceId;
}

export function installAuth(app: FastifyInstance, creds: Credentials): void {
  app.decorateRequest('principal', null as never);
  app.addHook('onRequest', async (req) => {
    const mode: AuthMode = req.routeOptions.config?.auth ?? 'none';
    if (mode === 'none') {
      req.principal = { kind: 'anonymous' };
      return;
    }
    const p = await identify(req, creds);
    req.principal = p;
    if (p.kind === 'anonymous')
      throw new HttpError(401, 'E_AUTH', 'authentication required (Authorization: Bearer <api key>)');
    const okOperator =
      p.kind === 'operator' &&
      (mode === 'read' || mode === 'device-or-read' || (mode === 'admin' && p.role === 'admin'));
    const okDevice = p.kind === 'device' && (mode === 'device' || mode === 'device-or-read');
    if (okOperator || okDevice) return;
    if (p.kind === 'operator' && mode === 'admin')
      throw new HttpError(403, 'E_AUTH', 'this API key is read-only; the operation needs an admin key');
    throw new HttpError(403, 'E_AUTH', 'not allowed for these credentials');
  });
}
