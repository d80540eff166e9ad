/**
 * Enrollment: operators mint one-time tokens (with tags); a device trades one for its id, broker
 * credentials and the signing key. The password is returned once and stored only as hashes.
 */
import { randomBytes } from 'node:crypto';
import { VergeError } from '../errors.ts';
import {
  MAX_TELEMETRY_BATCH,
  PROTOCOL_VERSION,
  type CreateEnrollTokenRequest,
  type DeviceConfigResponse,
  type DeviceEncryptionKey,
  type EnrollRequest,
  type EnrollResponse,
  type EnrollTokenResponse,
  type SigningKeyResponse,
} from '../protocol/index.ts';
import type { ControlPlaneMetrics } from './metrics.ts';
import { mosquittoPasswordHash } from './mosquitto-auth.ts';
import type { DeviceRepository } from './repositories/index.ts';
import { hashSecret, newSecret } from './secrets.ts';

/** Enrollment tokens live one day by default: long enough to provision, short enough to leak little. */
export const ENROLL_TOKEN_TTL_S = 24 * 3600;

export interface EnrollmentHost {
  devices: DeviceRepository;
  metrics: ControlPlaneMetrics;
  signingKey(): SigningKeyResponse;
  /** Broker URL handed to devices (may be known only once the broker started). */
  mqttUrl(): string;
  /** After a device was created: let the broker admit it (external broker auth files). */
  onEnrolled(deviceId: string): Promise<void>;
  /** A client certificate for the device's public key (a control plane serving TLS); absent: none issued. */
  issueClientCertificate?(deviceId: string, publicKeyPem: string): string;
}

export class EnrollmentService {
  constructor(private readonly host: EnrollmentHost) {}

  async createToken(req: CreateEnrollTokenRequest): Promise<EnrollTokenResponse> {
    const token = newSecret('et_');
    const expiresAt = Date.now() + (req.ttl_s ?? ENROLL_TOKEN_TTL_S) * 1000;
    const tags = req.tags ?? {};
    await this.host.devices.insertEnrollToken(hashSecret(token), tags, expiresAt);
    return { token, expires_at: expiresAt, tags };
  }

  async enroll(req: EnrollRequest): Promise<EnrollResponse> {
    const password = newSecret('');
    const id = `dev-${randomBytes(6).toString('hex')}`;
    // issued first: a bad key is refused before the token is spent
    const clientCertificate =
      req.client_public_key && this.host.issueClientCertificate
        ? this.host.issueClientCertificate(id, req.client_public_key)
        : undefined;
    const dev = await this.host.devices.enroll(hashSecret(req.token), {
      id,
      name: req.name,
      secretHash: hashSecret(password),
      brokerHash: mosquittoPasswordHash(password),
      profile: req.profile,
      ...(req.encryption_public_key ? { encryptionKey: req.encryption_public_key } : {}),
    });
    this.host.metrics.enrollments.inc();
    await this.host.onEnrolled(dev.id);
    return {
      device_id: dev.id,
      name: dev.name,
      tags: dev.tags,
      credentials: { username: dev.id, password },
      mqtt_url: this.host.mqttUrl(),
      signing_key: this.host.signingKey(),
      protocol_version: PROTOCOL_VERSION,
      telemetry_receipts: true,
      telemetry_batch: MAX_TELEMETRY_BATCH,
      ...(clientCertificate ? { client_certificate: clientCertificate } : {}),
    };
  }

  /** PUT /v1/device/encryption-key: an agent enrolled without an X25519 key registers it once. */
  async registerEncryptionKey(deviceId: string, publicKey: string): Promise<DeviceEncryptionKey> {
    if (!(await this.host.devices.registerEncryptionKey(deviceId, publicKey)))
      throw new VergeError(
        'E_CONFLICT',
        `device ${deviceId} already registered another encryption key (the first registration stays; re-enroll to change it)`,
      );
    return { public_key: publicKey };
  }

  async deviceConfig(deviceId: string): Promise<DeviceConfigResponse> {
    const d = await this.host.devices.get(deviceId);
    if (!d || d.id !== deviceId) throw new VergeError('E_NOT_FOUND', `no device '${deviceId}'`);
    return {
      device_id: d.id,
      name: d.name,
      tags: d.tags,
      mqtt_url: this.host.mqttUrl(),
      signing_key: this.host.signingKey(),
      protocol_version: PROTOCOL_VERSION,
      telemetry_receipts: true,
      telemetry_batch: MAX_TELEMETRY_BATCH,
    };
  }
}
