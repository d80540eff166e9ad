/**
 * Embedded MQTT broker (aedes) with verge's device authentication and per-device ACLs.
 * Devices log in with client id = username = device id and the password from enrollment; the
 * control plane's own client uses a per-process service credential.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import {
  MAX_MQTT_PACKET_BYTES,
  deviceMayPublish,
  deviceMaySubscribe,
  parseDeviceTopic,
  type DeviceVerb,
} from '../protocol/index.ts';

export interface BrokerAuthority {
  service: { username: string; password: string };
  /**
   * false until the control plane's client has subscribed (and again from shutdown on): devices are
   * refused meanwhile, because a QoS 1 publish the broker acknowledges with no subscriber is lost.
   */
  acceptingDevices(): boolean;
  /** true when the device exists, is not revoked and the password matches. */
  authenticateDevice(deviceId: string, password: string): Promise<boolean>;
  /**
   * Handle a device's message of an IN_PROCESS_VERBS verb; the broker acknowledges it (PUBACK)
   * only once this settles fulfilled. Without it those verbs are routed like any other.
   */
  deliver?(deviceId: string, verb: DeviceVerb, payload: Buffer): Promise<void>;
}

/** MQTTS (tls.ts): the listener's options, and whether devices must present their client certificate. */
export interface BrokerTls {
  options: TlsOptions;
  requireClientCert: boolean;
  /** The device a connection's verified client certificate names (tls.ts peerDevice). */
  peerDevice(conn: unknown): string | null;
}

/**
 * Verbs the embedded broker hands to the control plane in process, from its authorizePublish hook
 * (every device → cloud verb; a will message, the device's `offline` status, goes the same way).
 * aedes sends the PUBACK of a QoS 1 message before routing it, so a message routed to the control
 * plane's client was acknowledged while it still sat in memory (broker queue, socket, ingest
 * buffer): a kill -9 of the process under a flood lost 896 of 61,504 acknowledged records (finding
 * 8 of issue 14). Routed, each message also cost a second MQTT trip through the process (aedes
 * writes it to the control plane's own client over loopback, which parses it and acknowledges it)
 * and depended on that one connection keeping up: at 10,000 devices on a loaded machine the
 * control plane saw 1,632 of 7,332 connected devices online and a rollout stopped at 258 of 1,000
 * loaded (bench/results/fleet-10k-receipts-embedded.json). The control plane's client subscribes to
 * none of these verbs on the embedded broker.
 */
export const IN_PROCESS_VERBS: readonly DeviceVerb[] = Object.freeze(['telemetry', 'ack', 'status', 'heartbeat']);
/**
 * Of those, the verbs acknowledged only once handled: telemetry once stored, a deployment ack once
 * recorded (a device whose ack fails is disconnected and sends it again). Status and heartbeats are
 * acknowledged on receipt, as before: the latest one counts, and a device repeats them.
 */
const ACK_WHEN_HANDLED: readonly DeviceVerb[] = Object.freeze(['telemetry', 'ack']);
/** Messages of one device handed over and not yet acknowledged while aedes reads on (4× the agent's OUTBOX_WINDOW). */
const MAX_UNACKED_IN_PROCESS = 256;
/** Per client: messages handed over in process whose PUBACK is pending. */
const inProcessUnacked = new WeakMap<Client, number>();

/** PUBACK packet ids waiting for the next tick, per connection (in the order their messages were handled). */
const pubacks = new Map<Client['conn'], number[]>();

/** Write the PUBACKs gathered this tick: one buffer, one write per connection. */
function flushPubacks(): void {
  for (const [conn, ids] of pubacks) {
    if (conn.destroyed) continue;
    const buf = Buffer.allocUnsafe(ids.length * 4);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      buf[4 * i] = 0x40;
      buf[4 * i + 1] = 0x02;
      buf[4 * i + 2] = id >> 8;
      buf[4 * i + 3] = id & 0xff;
    }
    conn.write(buf);
  }
  pubacks.clear();
}

/**
 * PUBACK a device's QoS 1 message once it is handled, on the connection it came by (a new
 * connection may reuse the packet id; the device sends the message again there anyway). The same
 * four bytes in MQTT 3.1.1 and 5 (reason code 0 omitted); gathered until the next tick, so the
 * acknowledgements of one stored batch leave in one buffer and one write per device.
 */
function sendPuback(client: Client, conn: Client['conn'], messageId: number): void {
  if (client.conn !== conn || conn.destroyed || !(client as unknown as { connected: boolean }).connected) return;
  const ids = pubacks.get(conn);
  if (ids) ids.push(messageId);
  else {
    if (pubacks.size === 0) process.nextTick(flushPubacks);
    pubacks.set(conn, [messageId]);
  }
}

export interface EmbeddedBroker {
  url: string;
  port: number;
  /** Connected device clients (not counting the service client). */
  connectedDevices(): number;
  /** Disconnect every device (not the service client); used first on shutdown. */
  disconnectDevices(): void;
  /** Drop a client's connection now (used on revocation). */
  disconnect(clientId: string): void;
  /**
   * Publish to devices from this process: routed (and retained) by the broker like a message from
   * the control plane's client, without a trip through that client's loopback connection.
   */
  publish(topic: string, payload: Buffer, qos: 0 | 1, retain: boolean): Promise<void>;
  close(): Promise<void>;
}

/**
 * Deliveries aedes runs at once (its default is 100); the rest wait in an array queue that aedes
 * drains with shift(), which V8 makes O(length) once the array is large: under a burst from 1,000
 * devices that queue reached thousands of messages and draining it was the largest single cost of
 * the process (22% of CPU, bench/fleet --cpu-prof). A delivery is a socket write, so a higher limit
 * keeps the queue short without holding more than the queue held. Measured A/B, 1,000 devices × 30
 * QoS 1 messages (3 runs each): stored after 3.5-3.9 s with 100, 3.0-3.3 s with 5,000.
 */
const BROKER_CONCURRENCY = 5000;

/** MQTT CONNACK return codes (MQTT 3.1.1 §3.2.2.3). */
const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

/** The parts of mqtt-packet's parser (one per aedes client) the packet cap hooks into. */
interface PacketParser {
  packet: { length: number };
  _parseLength(): boolean;
  _emitError(err: Error): void;
}

/**
 * Refuse any packet whose announced length exceeds `maxBytes`, before its body is buffered: aedes
 * has no such limit, and its parser would otherwise hold up to MQTT's 256 MB per packet in memory
 * and hand a multi-megabyte message to the control plane. The client gets an error and is closed.
 */
function capPacketSize(client: Client, maxBytes: number): void {
  const parser = (client as unknown as { _parser: PacketParser })._parser;
  const parseLength = parser._parseLength;
  parser._parseLength = function (this: PacketParser) {
    if (!parseLength.call(this)) return false;
    if (this.packet.length <= maxBytes) return true;
    this._emitError(new Error(`packet of ${this.packet.length} bytes exceeds the ${maxBytes}-byte limit`));
    return false;
  };
}

/** The parts of aedes' persistence (aedes-persistence, in memory) the retained index wraps. */
interface RetainedStore {
  storeRetained(packet: PublishPacket, cb?: (err: Error | null) => void): unknown;
  createRetainedStreamCombi(patterns: string[]): Readable;
}

const isWildcard = (pattern: string) => pattern.includes('+') || pattern.includes('#');

/**
 * Answer the retained messages of a subscription to one exact topic from a map, not a scan. The
 * in-memory persistence finds them by testing every retained topic against the pattern, so each
 * device's SUBSCRIBE to its own deploy topic cost one match per retained message of the fleet
 * (every device's retained status and desired state): O(n) per connect, O(n²) for the fleet — the
 * largest cost of connecting 10,000 devices (bench/fleet --cpu-prof). A pattern without wildcards
 * matches exactly one topic, so a map keyed by topic, kept beside the store, gives the same answer;
 * wildcard patterns (the control plane's own subscriptions) still go to the store.
 */
function indexRetained(store: RetainedStore): void {
  const byTopic = new Map<string, PublishPacket>();
  const storeRetained = store.storeRetained.bind(store);
  const combi = store.createRetainedStreamCombi.bind(store);
  store.storeRetained = (packet, cb) => {
    // the same rule as the store: an empty payload clears the topic's retained message
    if (packet.payload.length === 0) byTopic.delete(packet.topic);
    else byTopic.set(packet.topic, { ...packet });
    return storeRetained(packet, cb);
  };
  store.createRetainedStreamCombi = (patterns) => {
    const exact = patterns.filter((p) => !isWildcard(p));
    const wild = patterns.filter(isWildcard);
    const hits = [...new Set(exact)].flatMap((t) => byTopic.get(t) ?? []);
    if (wild.length === 0) return Readable.from(hits);
    return Readable.from(
      (async function* () {
        yield* hits;
        yield* combi(wild);
      })(),
    );
  };
}

/** The parts of aedes' message emitter (mqemitter) the recursion bound wraps. */
interface MessageEmitter {
  current: number;
  _do(message: unknown, done: (err?: Error) => void): unknown;
}

/** Synchronous nesting of queued deliveries after which the next one waits for setImmediate. */
const MAX_DELIVERY_NESTING = 64;

/**
 * Bound the recursion of aedes' message emitter. Over BROKER_CONCURRENCY deliveries in flight it
 * queues messages, and each delivery that completes starts the next queued one from inside its own
 * completion; a delivery that completes synchronously (a message with no subscriber: aedes' own
 * `$SYS/…` messages of every connect and subscribe, a cleared retained message) nests the next
 * one, so a long queue of them overflowed the call stack and crashed the process — twice in
 * bench/fleet with 10,000 devices on a loaded machine, once connecting, once in the rollout.
 * Past MAX_DELIVERY_NESTING the next delivery starts from setImmediate; its slot stays counted
 * meanwhile, so new messages keep queueing behind it and the order is unchanged.
 */
function boundDeliveryNesting(mq: MessageEmitter): void {
  const run = mq._do.bind(mq);
  let depth = 0;
  mq._do = (message, done) => {
    if (depth >= MAX_DELIVERY_NESTING) {
      mq.current++;
      setImmediate(() => {
        mq.current--;
        run(message, done);
      });
      return mq;
    }
    depth++;
    try {
      return run(message, done);
    } finally {
      depth--;
    }
  };
}

/** Hand a QoS 1 device message over in process and PUBACK it only once `handled` settles. */
function handOverUntilHandled(
  client: Client,
  packet: PublishPacket,
  handled: Promise<void>,
  callback: (error?: Error | null) => void,
  handedOver: WeakSet<object>,
): void {
  // Not acknowledged (the device keeps it and sends it again) unless handled. The PUBACK is
  // this hook's, not aedes': aedes reads a client's next packets only once every packet it is
  // handling is done, so waiting here held the device's PINGREQs behind the database — under
  // load longer than the keepalive, and the device reconnected and sent its whole window again.
  // Up to MAX_UNACKED_IN_PROCESS per device aedes reads on (the agent has OUTBOX_WINDOW in
  // flight); beyond, it waits as before, so a device ignoring the window cannot grow memory.
  handedOver.add(packet);
  const messageId = packet.qos === 1 ? packet.messageId : undefined;
  packet.qos = 0; // aedes sends no PUBACK for it
  const conn = client.conn;
  const unacked = (inProcessUnacked.get(client) ?? 0) + 1;
  inProcessUnacked.set(client, unacked);
  const settle = () => inProcessUnacked.set(client, (inProcessUnacked.get(client) ?? 1) - 1);
  const waits = unacked > MAX_UNACKED_IN_PROCESS;
  if (!waits) callback(null);
  handled.then(
    () => {
      settle();
      if (messageId !== undefined) sendPuback(client, conn, messageId);
      if (waits) callback(null);
    },
    (e: unknown) => {
      settle();
      // the device sends it again after reconnecting
      if (waits) callback(e instanceof Error ? e : new Error(String(e)));
      else client.close();
    },
  );
}

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export async function startEmbeddedBroker(
  authority: BrokerAuthority,
  host = '127.0.0.1',
  port = 0,
  maxPacketBytes = MAX_MQTT_PACKET_BYTES,
  tls: BrokerTls | null = null,
): Promise<EmbeddedBroker> {
  const serviceIds = new Set<string>();
  /** Packets deliver() took (IN_PROCESS_VERBS): acknowledged, and not routed further. */
  const handedOver = new WeakSet<object>();
  const broker = await Aedes.createBroker({
    concurrency: BROKER_CONCURRENCY,
    authenticate(client: Client, username, password, done) {
      const pass = password?.toString('utf8') ?? '';
      if (username === authority.service.username) {
        if (pass === authority.service.password) {
          serviceIds.add(client.id);
          return done(null, true);
        }
        return done(authError('bad service credentials', BAD_USERNAME_OR_PASSWORD), false);
      }
      if (!authority.acceptingDevices()) return done(authError('control plane not ready', SERVER_UNAVAILABLE), false);
      // a device may only log in under its own id, so it can neither impersonate nor kick another
      if (!username || client.id !== username)
        return done(authError('client id must equal username', NOT_AUTHORIZED), false);
      // mTLS: the password alone does not admit a device; the certificate issued to it must come too
      if (tls?.requireClientCert && tls.peerDevice(client.conn) !== username)
        return done(authError('client certificate of this device required', NOT_AUTHORIZED), false);
      authority.authenticateDevice(username, pass).then(
        (ok) =>
          ok ? done(null, true) : done(authError('bad credentials or revoked device', BAD_USERNAME_OR_PASSWORD), false),
        () => done(authError('authentication unavailable', NOT_AUTHORIZED), false),
      );
    },
    authorizePublish(client, packet, callback) {
      if (client === null || serviceIds.has(client.id)) return callback(null);
      if (!deviceMayPublish(client.id, packet.topic))
        return callback(new Error(`device ${client.id} may not publish to ${packet.topic}`));
      const verb = authority.deliver ? parseDeviceTopic(packet.topic)?.verb : undefined;
      if (!verb || !IN_PROCESS_VERBS.includes(verb)) return callback(null);
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      const handled = authority.deliver!(client.id, verb, payload);
      if (!ACK_WHEN_HANDLED.includes(verb)) {
        handled.catch(() => undefined); // the handler logs its own failures
        handedOver.add(packet);
        return callback(null);
      }
      handOverUntilHandled(client, packet, handled, callback, handedOver);
    },
    authorizeSubscribe(client, sub, callback) {
      if (serviceIds.has(client.id)) return callback(null, sub);
      // negate (SUBACK 0x80) rather than disconnect: the device learns the subscription was refused
      callback(null, deviceMaySubscribe(client.id, sub.topic) ? sub : null);
    },
  });
  indexRetained((broker as unknown as { persistence: RetainedStore }).persistence);
  boundDeliveryNesting((broker as unknown as { mq: MessageEmitter }).mq);
  broker.on('clientDisconnect', (c: Client) => serviceIds.delete(c.id));
  // A message handed over in process has no subscriber left to route to. Routing it anyway costs
  // a trip through mqemitter, whose queue, once over BROKER_CONCURRENCY, drains deliveries that
  // complete synchronously (no subscriber) by recursion: 50,000 telemetry messages from 10,000
  // devices overflowed the stack (bench/fleet). After the PUBACK, aedes publishes; skip it here
  // (a device's retained status is therefore not kept by the broker: nothing subscribes to it).
  type Done = (err?: Error) => void;
  type AedesPublish = (packet: PublishPacket, client?: Client | null | Done, done?: Done) => void;
  const routed = broker as unknown as { publish: AedesPublish };
  const publish = routed.publish.bind(broker);
  routed.publish = (packet, client, done) => {
    if (!handedOver.delete(packet)) return publish(packet, client, done);
    (typeof client === 'function' ? client : done)?.();
  };
  const accept = (conn: Socket) => capPacketSize(broker.handle(conn), maxPacketBytes);
  const server: Server = tls ? createTlsServer(tls.options, accept) : createServer(accept);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => {
      // a broker left open keeps the process alive: `verge cloud` on a busy port would hang
      broker.close(() => reject(e));
    });
    server.listen(port, host, () => resolve());
  });
  const actualPort = (server.address() as { port: number }).port;
  const clients = (broker as unknown as { clients: Record<string, Client> }).clients;
  return {
    url: `${tls ? 'mqtts' : 'mqtt'}://${host}:${actualPort}`,
    port: actualPort,
    connectedDevices: () => Object.keys(clients).filter((id) => !serviceIds.has(id)).length,
    disconnectDevices() {
      for (const [id, c] of Object.entries(clients)) if (!serviceIds.has(id)) c.close();
    },
    disconnect(clientId) {
      clients[clientId]?.close();
    },
    publish: (topic, payload, qos, retain) =>
      new Promise<void>((resolve, reject) =>
        publish({ cmd: 'publish', topic, payload, qos, retain, dup: false } as PublishPacket, null, (err) =>
          err ? reject(err) : resolve(),
        ),
      ),
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of Object.values(clients)) c.close();
        server.close(() => broker.close(() => resolve()));
      }),
  };
}
