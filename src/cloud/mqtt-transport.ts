/**
 * The control plane's MQTT side, the same for both brokers: the embedded aedes broker (started
 * here, authenticating devices against the registry) or an external broker (Mosquitto, EMQX), and
 * the service client that subscribes to every device's messages and publishes to devices.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deviceTopic, encodeMessage, VERBS, type DeviceVerb, type MessageInput } from '../protocol/index.ts';
import { IN_PROCESS_VERBS, startEmbeddedBroker, type EmbeddedBroker } from './broker.ts';
import { CloudMessaging, type DeviceMessageListener } from './messaging.ts';
import { newSecret } from './secrets.ts';
import { peerDevice, type CloudTls } from './tls.ts';

export const SERVICE_USERNAME = 'verge-cloud';
/** After disconnecting devices on shutdown, time for messages already routed to reach our client. */
const SHUTDOWN_DRAIN_MS = 100;

export interface MqttTransportOptions {
  /** External broker URL (`mqtt://host:port`); default: embedded aedes broker. */
  broker?: string;
  brokerUsername?: string;
  brokerPassword?: string;
  /** Embedded broker bind address and port (default 127.0.0.1, ephemeral). */
  mqttHost?: string;
  mqttPort?: number;
  instanceId?: string;
  sharedSubscriptions?: boolean;
  /** verge writes the external Mosquitto's auth files: this replica gets a login of its own. */
  mosquittoAuthDir?: string;
  /** The embedded broker serves MQTTS (tls.ts); absent or null: plain MQTT. */
  tls?: CloudTls | null;
  /** PEM CA file of an external `mqtts://` broker (default: the system's CAs). */
  brokerCaFile?: string;
}

/** How the control plane's own clients (service client, WebSocket bridge) verify the broker. */
export interface BrokerClientTls {
  ca?: string;
  /**
   * false for the embedded broker only: its clients are this process, connecting to its own
   * listener over a local route (the server certificate may name public host names only); an
   * external broker is always verified.
   */
  rejectUnauthorized: boolean;
}

/** This process's login on the broker and the client id it connects with. */
export interface ServiceLogin {
  username: string | undefined;
  password: string | undefined;
  clientId: string;
}

/**
 * The control plane's broker login. Its client id must not be guessable: on a broker that lets a
 * client pick any id, whoever connects with the control plane's id takes over its session.
 * - embedded: a per-process secret; the embedded broker admits a device only as its own id.
 * - external, auth files by verge: one login per replica (`<user>-<instance>`), whose username
 *   Mosquitto makes the client id (`use_username_as_clientid`, written in verge.conf); the
 *   password is --broker-password or a per-process secret registered through the database.
 * - external, auth by the operator: the given login; the client id carries an HMAC of the password,
 *   stable per instance (a persistent session survives restarts) but unknown to devices. With no
 *   instance id the id is random (a clean session, as before).
 */
export function serviceLogin(opts: MqttTransportOptions): ServiceLogin {
  const random = () => randomBytes(8).toString('hex');
  if (!opts.broker) {
    return { username: SERVICE_USERNAME, password: newSecret('svc_'), clientId: `${SERVICE_USERNAME}-${random()}` };
  }
  const base = opts.brokerUsername ?? SERVICE_USERNAME;
  const instance = (opts.instanceId ?? random())
    .toLowerCase()
    .replace(/[^a-z0-9_.-]/g, '-')
    .slice(0, 48);
  if (opts.mosquittoAuthDir) {
    const username = `${base}-${instance}`;
    return { username, password: opts.brokerPassword ?? newSecret('svc_'), clientId: username };
  }
  // without a password the broker authenticates nobody, so there is no secret to hide the id
  // behind; it stays stable per instance (a persistent session survives restarts)
  if (!opts.brokerPassword)
    return { username: opts.brokerUsername, password: undefined, clientId: `${base}-${instance}` };
  const tag = createHmac('sha256', opts.brokerPassword).update(instance).digest('hex').slice(0, 16);
  return { username: opts.brokerUsername, password: opts.brokerPassword, clientId: `${base}-${instance}-${tag}` };
}

export class MqttTransport {
  private broker: EmbeddedBroker | null = null;
  private messaging: CloudMessaging | null = null;
  /** Embedded broker admits devices only while the control plane's subscription is in place. */
  private accepting = false;
  /** Broker URL (known at construction for an external broker, after start for the embedded one). */
  url: string | null;
  /** This process's broker login (its username and password also go into generated auth files). */
  readonly login: ServiceLogin;

  constructor(
    private readonly opts: MqttTransportOptions,
    private readonly authenticateDevice: (deviceId: string, password: string) => Promise<boolean>,
  ) {
    this.url = opts.broker ?? null;
    this.login = serviceLogin(opts);
  }

  get external(): boolean {
    return !!this.opts.broker;
  }

  /** Start the embedded broker (if any) and connect the subscribed service client; devices wait for acceptDevices(). */
  async start(onMessage: DeviceMessageListener): Promise<string> {
    const external = this.external;
    if (!external) {
      this.broker = await startEmbeddedBroker(
        {
          service: { username: this.login.username!, password: this.login.password! },
          acceptingDevices: () => this.accepting,
          authenticateDevice: this.authenticateDevice,
          deliver: onMessage,
        },
        this.opts.mqttHost ?? '127.0.0.1',
        this.opts.mqttPort ?? 0,
        undefined,
        this.opts.tls
          ? {
              options: this.opts.tls.serverOptions(),
              requireClientCert: this.opts.tls.requireClientCert,
              peerDevice,
            }
          : null,
      );
      this.url = this.broker.url;
    }
    this.messaging = await CloudMessaging.connect({
      url: this.url!,
      clientId: this.login.clientId,
      username: this.login.username,
      password: this.login.password,
      external,
      shared: external && !!this.opts.sharedSubscriptions,
      persistentSession: external && !!this.opts.instanceId,
      // the embedded broker hands these to onMessage itself, before acknowledging them
      skipVerbs: external ? [] : IN_PROCESS_VERBS,
      tls: this.clientTls(),
      onMessage,
    });
    return this.url!;
  }

  /** TLS options of this process's own connections to the broker (embedded or external). */
  clientTls(): BrokerClientTls {
    if (!this.external) return { rejectUnauthorized: false };
    return {
      rejectUnauthorized: true,
      ...(this.opts.brokerCaFile ? { ca: readFileSync(this.opts.brokerCaFile, 'utf8') } : {}),
    };
  }

  /** From now on the embedded broker admits devices (the subscription and retained state are in place). */
  acceptDevices(): void {
    this.accepting = true;
  }

  /**
   * Publish to a device; a no-op before start (the state is in the database and is published on
   * start). The embedded broker takes it in process (broker.ts): receipts, desired states and
   * commands to a large fleet would otherwise each cross the service client's loopback connection.
   */
  async publish<V extends DeviceVerb>(deviceId: string, verb: V, msg: MessageInput<V>, qos?: 0 | 1): Promise<void> {
    if (!this.messaging) return;
    if (!this.broker) return this.messaging.publish(deviceId, verb, msg, qos);
    const spec = VERBS[verb];
    await this.broker.publish(deviceTopic(deviceId, verb), encodeMessage(verb, msg), qos ?? spec.qos, spec.retained);
  }

  async clearRetained(deviceId: string, verb: DeviceVerb): Promise<void> {
    if (!this.messaging) return;
    // an empty retained payload deletes the retained message (MQTT 3.1.1 §3.3.1.3)
    if (this.broker) return this.broker.publish(deviceTopic(deviceId, verb), Buffer.alloc(0), 1, true);
    await this.messaging.clearRetained(deviceId, verb);
  }

  get started(): boolean {
    return this.messaging !== null;
  }

  /** Drop a device's connection to the embedded broker now (revocation). */
  disconnect(deviceId: string): void {
    this.broker?.disconnect(deviceId);
  }

  /** Times the service client lost its broker connection (0 while it has held it throughout). */
  get disconnects(): number {
    return this.messaging?.disconnects ?? 0;
  }

  connectedDevices(): number {
    return this.broker?.connectedDevices() ?? 0;
  }

  async close(): Promise<void> {
    // devices go first, so nothing they publish is acknowledged after we stop listening
    this.accepting = false;
    this.broker?.disconnectDevices();
    await new Promise((r) => setTimeout(r, SHUTDOWN_DRAIN_MS)); // let in-flight deliveries reach our client
    await this.messaging?.close().catch(() => undefined);
    this.messaging = null;
    await this.broker?.close();
    this.broker = null;
  }
}
