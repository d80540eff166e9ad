/**
 * The control plane's MQTT client: the same code against the embedded broker and an external one.
 * On an external broker it speaks MQTT 5 with a persistent session; with several replicas each
 * replica receives every device message by default (the database deduplicates), or, opted in, a
 * shared subscription splits them across replicas (not durable across a Mosquitto restart).
 * message is handled by exactly one replica.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { VergeError } from '../errors.ts';
import {
  cloudSubscriptions,
  deviceTopic,
  encodeMessage,
  parseDeviceTopic,
  sharedSubscription,
  VERBS,
  type DeviceVerb,
  type MessageInput,
} from '../protocol/index.ts';

/** Handles one device message; settles once it is handled (telemetry: durably stored). */
export type DeviceMessageListener = (deviceId: string, verb: DeviceVerb, payload: Buffer) => Promise<void>;

/** Group name of the control plane's shared subscriptions. */
export const SHARED_GROUP = 'verge-cloud';
/** Reconnect period of the service client; brokers restart in seconds. */
const RECONNECT_MS = 1000;
const CONNECT_TIMEOUT_MS = 10_000;
/** How long the broker keeps a disconnected replica's session: covers restarts and rollouts of the control plane. */
const SESSION_EXPIRY_S = 3600;
/**
 * A publish waits this long for the broker's PUBACK before the caller moves on: desired state is
 * in the database, and the client delivers the queued message when the broker is back.
 */
const PUBLISH_WAIT_MS = 5000;
/**
 * MQTT 5 Receive Maximum the service client advertises: how many QoS 1 device messages an external
 * broker may have in flight to it, unacknowledged. Without it Mosquitto 2 sends at most
 * max_inflight_messages (20) at a time and holds the rest in the session queue, which it caps at
 * max_queued_messages and then DROPS (already acknowledged to the device): under a telemetry burst
 * the queue filled long before it drained. In flight they are the broker's and ours to redeliver
 * (persistent session), not subject to that cap; the protocol maximum lets the broker push as fast
 * as this client reads, with TCP as the flow control.
 */
const RECEIVE_MAXIMUM = 65535;

/**
 * Coalesce the writes made while handling a run of packets from the broker (the PUBACK of every
 * QoS 1 message) into one socket write. mqtt.js handles one packet per tick and flushes each
 * PUBACK on its own, so a burst of device messages otherwise costs one write system call, and one
 * packet for the broker to read, per acknowledgement. From the first packet handled, the socket
 * stays corked until the next setImmediate: after the packets mqtt.js handles meanwhile (its
 * packet loop runs on process.nextTick), so acknowledgements wait at most one event-loop turn.
 */
function coalesceAcks(client: MqttClient): void {
  let corked: { uncork(): void } | null = null;
  const uncork = () => {
    const s = corked;
    corked = null;
    s?.uncork();
  };
  client.on('packetreceive', () => {
    const stream = client.stream;
    if (corked || !stream || stream.destroyed) return;
    stream.cork();
    corked = stream;
    setImmediate(uncork);
  });
}

type SendPacket = (packet: { cmd: string; messageId?: number }, cb?: (e?: Error) => void, ...rest: unknown[]) => void;

/**
 * A device message's PUBACK to an external broker waits until the control plane holds the message
 * (its `onMessage` settled: telemetry stored or dead-lettered), so a kill -9 of the control plane
 * loses nothing the broker counts as delivered: the broker sends what was never acknowledged again
 * to the persistent session when the control plane is back (telemetry ids deduplicate). mqtt.js
 * sends the PUBACK right after the 'message' event and reads the next packet only once that send
 * returned, so waiting in its hooks (handleMessage, customHandleAcks) would handle one message
 * per database write; the PUBACK packet itself is held instead (`_sendPacket`, the one method
 * mqtt.js sends it through), in arrival order (MQTT 4.6), and dropped when the connection it
 * belongs to is gone (its packet id may be reused on the next one: the broker resends anyway).
 */
function ackWhenHeld(client: MqttClient): (messageId: number | undefined, held: Promise<void>) => void {
  const pending = new Map<number, { held: Promise<void>; stream: unknown }>();
  const target = client as unknown as { _sendPacket: SendPacket };
  const send = target._sendPacket.bind(client);
  let order: Promise<void> = Promise.resolve();
  target._sendPacket = (packet, cb, ...rest) => {
    const p = packet.cmd === 'puback' && packet.messageId !== undefined ? pending.get(packet.messageId) : undefined;
    if (!p) return send(packet, cb, ...rest);
    pending.delete(packet.messageId!);
    cb?.(); // mqtt.js goes on with the next packet now
    // a message that could not be kept stays unacknowledged: the broker sends it again on reconnect
    order = order
      .then(() => p.held)
      .then(
        () => {
          if (client.stream === p.stream && client.connected) send(packet, undefined, ...rest);
        },
        () => undefined,
      );
  };
  return (messageId, held) => {
    if (messageId !== undefined) pending.set(messageId, { held, stream: client.stream });
  };
}

export class CloudMessaging {
  /** Connections lost since the first CONNACK (a broker restart, or someone taking over the client id). */
  disconnects = 0;

  private constructor(private readonly client: MqttClient) {}

  static async connect(opts: {
    url: string;
    clientId: string;
    username?: string;
    password?: string;
    /** External broker: MQTT 5 (session expiry). */
    external: boolean;
    /** Subscribe as a member of a shared subscription group (`$share/verge-cloud/…`). */
    shared?: boolean;
    /** Keep the broker session across disconnects (needs a stable clientId). */
    persistentSession?: boolean;
    /** Device verbs not to subscribe to (the embedded broker hands them over in process). */
    skipVerbs?: readonly DeviceVerb[];
    /** For an `mqtts://` URL: the CA to verify the broker with, and whether to (mqtt-transport.ts). */
    tls?: { ca?: string; rejectUnauthorized: boolean };
    onMessage: DeviceMessageListener;
  }): Promise<CloudMessaging> {
    const client = mqtt.connect(opts.url, {
      clientId: opts.clientId,
      username: opts.username,
      password: opts.password,
      protocolVersion: opts.external ? 5 : 4,
      // a persistent session keeps the subscriptions (and queues QoS 1 device messages) while
      // this replica is disconnected, e.g. across an external broker restart
      clean: !opts.persistentSession,
      ...(opts.external
        ? {
            properties: {
              receiveMaximum: RECEIVE_MAXIMUM,
              ...(opts.persistentSession ? { sessionExpiryInterval: SESSION_EXPIRY_S } : {}),
            },
          }
        : {}),
      reconnectPeriod: RECONNECT_MS,
      connectTimeout: CONNECT_TIMEOUT_MS,
      ...(opts.tls ?? {}),
      // mqtt.js logs several lines per packet through `debug`; even disabled, those calls were ~2%
      // of the process under a telemetry burst. Without DEBUG set they print nothing anyway.
      ...(process.env.DEBUG ? {} : { log: () => undefined }),
    });
    const holdAck = opts.external ? ackWhenHeld(client) : undefined;
    // handlers first: a resumed session delivers queued messages right after CONNACK
    client.on('message', (topic, payload, packet) => {
      const t = parseDeviceTopic(topic);
      if (!t || VERBS[t.verb].from !== 'device') return;
      const held = opts.onMessage(t.deviceId, t.verb, payload);
      held.catch(() => undefined);
      if (holdAck && packet.qos === 1) holdAck(packet.messageId, held);
    });
    coalesceAcks(client);
    const filters = cloudSubscriptions(opts.skipVerbs).map((f) =>
      opts.shared ? sharedSubscription(SHARED_GROUP, f) : f,
    );
    // on the embedded broker every device verb comes in process (broker.ts): nothing to subscribe to
    const subscribe = async () => void (filters.length ? await client.subscribeAsync(filters, { qos: 1 }) : undefined);
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
        client.once('close', () => reject(new Error('connection closed')));
      });
    } catch (e) {
      client.end(true);
      throw new VergeError('E_NETWORK', `cannot connect to MQTT broker ${opts.url}: ${(e as Error).message}`);
    }
    client.on('error', () => undefined); // reconnects on its own; errors surface as failed publishes
    const messaging = new CloudMessaging(client);
    client.on('close', () => messaging.disconnects++);
    await subscribe();
    // subscribe on every CONNACK: a clean session forgets subscriptions, and Mosquitto 2 restores a
    // persistent session after its own restart without its shared ($share/…) subscriptions.
    // Subscribing again is idempotent.
    client.on('connect', () => {
      subscribe().catch(() => undefined);
    });
    return messaging;
  }

  /**
   * Publish to a device at the verb's QoS, or `qos` (a receipt goes at 0: losing one costs a resend).
   * QoS 0 is handed to the client and not waited for: nothing acknowledges it, and a completion
   * callback per message made mqtt.js add a 'drain' listener to the socket for each message
   * written beyond its buffer — hundreds when a receipts flush publishes to every device at once
   * (MaxListenersExceededWarning), each with a timer of its own here.
   */
  async publish<V extends DeviceVerb>(deviceId: string, verb: V, msg: MessageInput<V>, qos?: 0 | 1): Promise<void> {
    const spec = VERBS[verb];
    const topic = deviceTopic(deviceId, verb);
    const payload = encodeMessage(verb, msg);
    const options = { qos: qos ?? spec.qos, retain: spec.retained };
    if (options.qos === 0) {
      this.client.publish(topic, payload, options);
      return;
    }
    const sent = this.client.publishAsync(topic, payload, options);
    sent.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([sent, new Promise<void>((resolve) => (timer = setTimeout(resolve, PUBLISH_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /** Remove a retained message (an empty retained payload deletes it, MQTT 3.1.1 §3.3.1.3). */
  async clearRetained(deviceId: string, verb: DeviceVerb): Promise<void> {
    await this.client.publishAsync(deviceTopic(deviceId, verb), Buffer.alloc(0), { qos: 1, retain: true });
  }

  get connected(): boolean {
    return this.client.connected;
  }

  async close(): Promise<void> {
    // bounded: with the broker already gone there is nothing to flush
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.client.endAsync(), new Promise<void>((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    if (!this.client.disconnected) this.client.end(true);
  }
}
