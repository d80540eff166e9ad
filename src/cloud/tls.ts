/**
 * The control plane's TLS material: the server certificate of HTTPS, MQTTS and WSS (files the
 * operator gives, or one issued by a private CA kept in `<dataDir>/tls/`), and that private CA,
 * which also issues the devices' client certificates at enrollment (mTLS). docs/security.md.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket, TlsOptions } from 'node:tls';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { VergeError } from '../errors.ts';
import {
  certificateCovers,
  createCertificateAuthority,
  issueClientCertificate,
  issueServerCertificate,
  type CertAndKey,
} from './certificates.ts';

export interface CloudTlsOptions {
  /** PEM server certificate (with its chain) and key; with neither, `auto` must be set. */
  certFile?: string;
  keyFile?: string;
  /** Issue the server certificate from the private CA in `<dataDir>/tls/` (first start creates both). */
  auto?: boolean;
  /** Extra DNS names or IP addresses of the issued server certificate (auto). */
  names?: readonly string[];
  /** Devices must present the client certificate issued at enrollment (HTTPS device routes, MQTTS). */
  requireClientCert?: boolean;
}

export interface CloudTls {
  /** Server certificate chain and key (PEM). */
  server: CertAndKey;
  /** The private CA's certificate file: what agents pass as `--ca` in auto mode. */
  caFile: string;
  /** The private CA's certificate (PEM). */
  caCert: string;
  requireClientCert: boolean;
  /** A client certificate `CN=<deviceId>` for the device's public key. */
  issueClientCertificate(deviceId: string, publicKeyPem: string): string;
  /**
   * Options of every TLS listener: the client certificate is asked for but checked by verge
   * (peerDevice), since operators and browser tabs have none.
   */
  serverOptions(): TlsOptions;
}

/** The private CA and the issued server certificate, beside the signing keys. */
const TLS_DIR = 'tls';
/** An issued server certificate is renewed on start when it expires within this many days. */
const RENEW_DAYS = 30;

function readPem(file: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new VergeError('E_BAD_ARGUMENT', `cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
  if (!text.includes('-----BEGIN ')) throw new VergeError('E_BAD_ARGUMENT', `${what} ${file} is not a PEM file`);
  return text;
}

function writeSecret(file: string, text: string): void {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** The CA in `<dir>`, created on first use. */
function loadOrCreateCa(dir: string): CertAndKey {
  const certFile = join(dir, 'ca-cert.pem');
  const keyFile = join(dir, 'ca-key.pem');
  if (existsSync(certFile) && existsSync(keyFile))
    return { cert: readPem(certFile, 'CA certificate'), key: readPem(keyFile, 'CA key') };
  const ca = createCertificateAuthority(`verge private CA (${hostname()})`);
  writeSecret(keyFile, ca.key);
  writeFileSync(certFile, ca.cert);
  return ca;
}

/** Names a device may reach this host by: loopback, the host name, every interface address. */
export function localNames(): string[] {
  const names = ['localhost', '127.0.0.1', '::1', hostname()];
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (!a.internal) names.push(a.address.split('%')[0]!);
  return names;
}

function loadOrIssueServer(dir: string, ca: CertAndKey, names: readonly string[]): CertAndKey {
  const certFile = join(dir, 'server-cert.pem');
  const keyFile = join(dir, 'server-key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cert = readPem(certFile, 'server certificate');
    const issuedByCa = new X509Certificate(cert).checkIssued(new X509Certificate(ca.cert));
    if (issuedByCa && names.every((n) => certificateCovers(cert, n, RENEW_DAYS * 86_400_000)))
      return { cert, key: readPem(keyFile, 'server key') };
  }
  const server = issueServerCertificate(ca, [...new Set(names)]);
  writeSecret(keyFile, server.key);
  writeFileSync(certFile, server.cert);
  return server;
}

/** The operator's certificate and key, checked to belong together (else OpenSSL's error at listen). */
function givenServerCertificate(certFile: string, keyFile: string): CertAndKey {
  const cert = readPem(certFile, '--tls-cert');
  const key = readPem(keyFile, '--tls-key');
  let matches: boolean;
  try {
    matches = new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch (e) {
    throw new VergeError('E_BAD_ARGUMENT', `--tls-cert/--tls-key: ${(e as Error).message}`);
  }
  if (!matches) throw new VergeError('E_BAD_ARGUMENT', `--tls-key ${keyFile} is not the key of --tls-cert ${certFile}`);
  return { cert, key };
}

/** The TLS material of `verge cloud`, or null without TLS options. */
export function loadCloudTls(dataDir: string, opts: CloudTlsOptions): CloudTls | null {
  if (!opts.auto && opts.names?.length)
    throw new VergeError('E_BAD_ARGUMENT', '--tls-name names the certificate --tls-auto issues: add --tls-auto');
  if (!opts.certFile && !opts.keyFile && !opts.auto) {
    if (opts.requireClientCert)
      throw new VergeError('E_BAD_ARGUMENT', '--require-client-cert needs TLS: --tls-auto or --tls-cert/--tls-key');
    return null;
  }
  if (opts.auto && (opts.certFile || opts.keyFile))
    throw new VergeError(
      'E_BAD_ARGUMENT',
      '--tls-auto issues the server certificate itself: drop --tls-cert/--tls-key',
    );
  if (!opts.auto && !(opts.certFile && opts.keyFile))
    throw new VergeError('E_BAD_ARGUMENT', '--tls-cert and --tls-key go together');
  const dir = join(dataDir, TLS_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = loadOrCreateCa(dir);
  const server = opts.auto
    ? loadOrIssueServer(dir, ca, [...localNames(), ...(opts.names ?? [])])
    : givenServerCertificate(opts.certFile!, opts.keyFile!);
  return {
    server,
    caFile: join(dir, 'ca-cert.pem'),
    caCert: ca.cert,
    requireClientCert: !!opts.requireClientCert,
    issueClientCertificate: (deviceId, publicKeyPem) => issueClientCertificate(ca, deviceId, publicKeyPem),
    serverOptions: () => ({
      cert: server.cert,
      key: server.key,
      ca: ca.cert,
      requestCert: true,
      rejectUnauthorized: false,
    }),
  };
}

/**
 * The device a TLS connection's client certificate names: its CN, when the certificate was issued
 * by this control plane's CA (the TLS layer verified the chain: `authorized`); else null.
 */
export function peerDevice(socket: unknown): string | null {
  const s = socket as Partial<TLSSocket> | null;
  if (!s || typeof s.getPeerCertificate !== 'function' || !s.authorized) return null;
  const cn = s.getPeerCertificate().subject?.CN;
  return typeof cn === 'string' ? cn : null;
}
