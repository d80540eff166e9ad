/**
 * How the agent reaches the cloud and the broker: the transport rule (no plaintext to another host
 * unless allowed), the CA it verifies the server with (`verge agent --ca`), and its client
 * certificate (mTLS, issued at enrollment). Every HTTP request of the agent goes through `fetch`
 * here, and the MQTT session takes `mqttTls()`. docs/security.md.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';
import { VergeError } from '../errors.ts';

export interface CloudChannelOptions {
  /** PEM file of the CA(s) the cloud's and broker's certificates must chain to; default: the system's CAs. */
  caFile?: string;
  /** Allow http:// and mqtt:// to a host other than loopback (credentials and models then travel in clear). */
  allowPlaintext?: boolean;
}

/** The client certificate and key issued at enrollment (PEM). */
export interface ClientCertificate {
  cert: string;
  key: string;
}

const PLAINTEXT = new Set(['http:', 'mqtt:', 'ws:']);

/** 127.0.0.0/8, ::1, localhost: traffic that never leaves the machine. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1' || h === '::ffff:127.0.0.1';
}

/**
 * Refuse a plaintext URL to another host: a device's password, enrollment token and models would
 * cross the network readable and alterable by anyone on the path (and a control plane serving
 * TLS could be downgraded by whoever rewrites a URL). Loopback stays allowed: the quickstart.
 */
export function checkTransport(url: string, what: string, allowPlaintext: boolean): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new VergeError('E_BAD_ARGUMENT', `${what} '${url}' is not a URL`);
  }
  if (allowPlaintext || !PLAINTEXT.has(u.protocol) || isLoopbackHost(u.hostname)) return;
  const secure = u.protocol === 'http:' ? 'https' : u.protocol === 'ws:' ? 'wss' : 'mqtts';
  throw new VergeError(
    'E_BAD_ARGUMENT',
    `refusing plaintext ${u.protocol.slice(0, -1)} to ${u.host} (${what}): use ${secure}:// (verge cloud --tls-auto or --tls-cert, agent --ca), or --allow-plaintext on a trusted network`,
  );
}

function readCa(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new VergeError('E_BAD_ARGUMENT', `cannot read --ca ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----'))
    throw new VergeError('E_BAD_ARGUMENT', `--ca ${file} holds no PEM certificate`);
  return text;
}

export class CloudChannel {
  /** HTTP to the cloud: global fetch, or one that trusts `ca` and presents the client certificate. */
  readonly fetch: typeof fetch;
  private readonly ca?: string;
  private readonly dispatcher?: Agent;

  constructor(
    readonly opts: CloudChannelOptions,
    private readonly client?: ClientCertificate,
  ) {
    this.ca = opts.caFile ? readCa(opts.caFile) : undefined;
    if (!this.ca && !client) {
      this.fetch = fetch;
      return;
    }
    const dispatcher = new Agent({
      connect: { ...(this.ca ? { ca: this.ca } : {}), ...(client ?? {}), rejectUnauthorized: true },
    });
    this.dispatcher = dispatcher;
    // undici's fetch is the one global fetch is built from; its types are its own
    this.fetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
      undiciFetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
  }

  /** The same channel with the client certificate issued at enrollment. */
  withClientCertificate(client: ClientCertificate | undefined): CloudChannel {
    return client ? new CloudChannel(this.opts, client) : this;
  }

  check(url: string, what: string): void {
    checkTransport(url, what, !!this.opts.allowPlaintext);
  }

  /** TLS options of the MQTT session (used for mqtts:// and wss:// only). */
  mqttTls(): { ca?: string; cert?: string; key?: string; rejectUnauthorized: true } {
    return { ...(this.ca ? { ca: this.ca } : {}), ...(this.client ?? {}), rejectUnauthorized: true };
  }

  async close(): Promise<void> {
    await this.dispatcher?.close().catch(() => undefined);
  }
}
