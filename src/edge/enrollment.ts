/**
 * Enrollment: trade a one-time token for a device id, MQTT credentials and the cloud's signing key
 * (protocol EnrollRequest/EnrollResponse over HTTP). Done once; the answer is kept in the data dir.
 */
import { VergeError } from '../errors.ts';
import { errorInfo } from './http-error.ts';
import { EnrollResponse, HTTP_PATHS, type DeviceProfile } from '../protocol/browser.ts';

/** One try at enrollment; the cloud may be starting, so a caller can retry on E_NETWORK. */
export const ENROLL_TIMEOUT_MS = 15_000;
/** How long enrollment keeps waiting out 429 answers, and the longest single wait it accepts. */
const ENROLL_THROTTLED_MAX_MS = 120_000;
const ENROLL_RETRY_AFTER_MAX_S = 30;

export function joinUrl(base: string, path: string): string {
  return new URL(path, base.endsWith('/') ? base : `${base}/`).toString();
}

async function errorMessage(res: Response): Promise<string> {
  return (await errorInfo(res))?.message ?? `HTTP ${res.status}`;
}

export async function enroll(
  cloudUrl: string,
  token: string,
  name: string,
  profile: DeviceProfile,
  via: { fetch?: typeof fetch; clientPublicKey?: string; encryptionPublicKey?: string } = {},
): Promise<EnrollResponse> {
  let url: string;
  try {
    url = joinUrl(cloudUrl, HTTP_PATHS.enroll.replace(/^\//, ''));
  } catch {
    throw new VergeError('E_BAD_ARGUMENT', `--cloud '${cloudUrl}' is not a URL (e.g. http://127.0.0.1:8470)`);
  }
  let res: Response;
  for (const until = Date.now() + ENROLL_THROTTLED_MAX_MS; ;) {
    try {
      res = await (via.fetch ?? fetch)(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          token,
          name,
          profile,
          ...(via.clientPublicKey ? { client_public_key: via.clientPublicKey } : {}),
          ...(via.encryptionPublicKey ? { encryption_public_key: via.encryptionPublicKey } : {}),
        }),
        signal: AbortSignal.timeout(ENROLL_TIMEOUT_MS),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      // a certificate the agent does not trust is an attack or a missing --ca, not an outage
      if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(why))
        throw new VergeError(
          'E_AUTH',
          `the cloud at ${cloudUrl} presented a certificate this agent does not trust (${why}); give the CA that issued it with --ca`,
        );
      throw new VergeError('E_NETWORK', `cannot reach the cloud at ${cloudUrl} (${why})`);
    }
    // the cloud's per-address rate limit (many devices enrolling behind one address): wait as told
    if (res.status !== 429 || Date.now() >= until) break;
    const waitS = Math.min(Math.max(Number(res.headers.get('retry-after')) || 1, 1), ENROLL_RETRY_AFTER_MAX_S);
    await res.body?.cancel();
    await new Promise((r) => setTimeout(r, Math.min(waitS * 1000, Math.max(0, until - Date.now()))));
  }
  if (res.status === 401 || res.status === 403)
    throw new VergeError('E_AUTH', `enrollment refused: ${await errorMessage(res)}`);
  if (res.status === 409) throw new VergeError('E_CONFLICT', `enrollment refused: ${await errorMessage(res)}`);
  if (res.status === 400) throw new VergeError('E_BAD_ARGUMENT', `enrollment refused: ${await errorMessage(res)}`);
  if (!res.ok) throw new VergeError('E_NETWORK', `enrollment at ${cloudUrl} failed: ${await errorMessage(res)}`);
  const parsed = EnrollResponse.safeParse(await res.json());
  if (!parsed.success)
    throw new VergeError('E_NETWORK', `the cloud at ${cloudUrl} answered enrollment with an unexpected body`);
  return parsed.data;
}

/** HTTP Basic credentials a device sends for artifacts (protocol/http.ts). */
export function deviceAuthHeader(deviceId: string, password: string): string {
  // btoa: the same in a browser tab (src/web/app/fl-device.ts); ids and passwords are ASCII
  return `Basic ${btoa(`${deviceId}:${password}`)}`;
}
