/**
 * MQTT topics: `verge/v1/dev/<deviceId>/<verb>`. The device id is the first thing after `dev/`,
 * so one ACL pattern per verb covers every device (`verge/v1/dev/%u/heartbeat` in Mosquitto).
 */
import { VergeError } from '../errors.ts';
import { TOPIC_ROOT } from './version.ts';

/** Messages the cloud sends to one device. */
export const CLOUD_TO_DEVICE_VERBS = Object.freeze(['deploy', 'command', 'fl'] as const);
/** Messages a device sends to the cloud. */
export const DEVICE_TO_CLOUD_VERBS = Object.freeze(['heartbeat', 'telemetry', 'status', 'ack'] as const);

export type CloudToDeviceVerb = (typeof CLOUD_TO_DEVICE_VERBS)[number];
export type DeviceToCloudVerb = (typeof DEVICE_TO_CLOUD_VERBS)[number];
export type DeviceVerb = CloudToDeviceVerb | DeviceToCloudVerb;

/**
 * Per verb: who publishes it, whether it is retained, and its QoS.
 * - deploy: the device's full desired state, retained so a device that (re)connects gets it at once.
 * - status: online/offline presence, retained; the agent also sets it as its MQTT last will.
 * - fl: the device's current federated-learning task (protocol/fl.ts), retained so an agent that
 *   (re)connects mid-round still gets it; cleared when the job ends.
 * - telemetry/ack at QoS 1: at-least-once; the cloud deduplicates by message id.
 *   A device deletes a queued record when the broker acknowledges it (PUBACK), and a broker
 *   acknowledges once it has routed the message to the subscribers present at that moment. So the
 *   cloud's subscription must be durable: on an external broker a persistent session (clean: false /
 *   MQTT 5 session expiry) so the broker queues while the cloud reconnects; with the embedded
 *   broker, devices must not be accepted before the cloud's client has subscribed, nor after it
 *   unsubscribed on shutdown. Otherwise a publish in that gap is acknowledged and dropped.
 *   Mosquitto 2 restores a persistent session after its own restart (CONNACK sessionPresent=1)
 *   but not the session's shared `$share/…` subscriptions: subscribe again on every CONNACK.
 */
export const VERBS: Readonly<
  Record<DeviceVerb, Readonly<{ from: 'cloud' | 'device'; retained: boolean; qos: 0 | 1 }>>
> = Object.freeze({
  deploy: Object.freeze({ from: 'cloud', retained: true, qos: 1 }),
  command: Object.freeze({ from: 'cloud', retained: false, qos: 1 }),
  fl: Object.freeze({ from: 'cloud', retained: true, qos: 1 }),
  heartbeat: Object.freeze({ from: 'device', retained: false, qos: 0 }),
  telemetry: Object.freeze({ from: 'device', retained: false, qos: 1 }),
  status: Object.freeze({ from: 'device', retained: true, qos: 1 }),
  ack: Object.freeze({ from: 'device', retained: false, qos: 1 }),
});

/** Device ids are topic-safe: no `/`, `+`, `#`, no spaces. Assigned by the cloud at enrollment. */
export const DEVICE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{2,63}$/;

export function isDeviceId(id: string): boolean {
  return DEVICE_ID_PATTERN.test(id);
}

/** `verge/v1/dev/<deviceId>/<verb>` */
export function deviceTopic(deviceId: string, verb: DeviceVerb): string {
  if (!isDeviceId(deviceId)) throw new VergeError('E_BAD_ARGUMENT', `invalid device id '${deviceId}'`);
  return `${TOPIC_ROOT}/dev/${deviceId}/${verb}`;
}

/** Topics a device subscribes to (all of them from the cloud, about itself). */
export function deviceSubscriptions(deviceId: string): string[] {
  return CLOUD_TO_DEVICE_VERBS.map((verb) => deviceTopic(deviceId, verb));
}

/**
 * Wildcard subscriptions of the control plane: one per device→cloud verb. With several replicas on
 * an external broker, use `sharedSubscription` so each message is handled by one replica.
 */
export function cloudSubscriptions(skip: readonly DeviceVerb[] = []): string[] {
  return DEVICE_TO_CLOUD_VERBS.filter((verb) => !skip.includes(verb)).map((verb) => `${TOPIC_ROOT}/dev/+/${verb}`);
}

/** MQTT 5 / Mosquitto shared subscription: `$share/<group>/<filter>`. */
export function sharedSubscription(group: string, filter: string): string {
  return `$share/${group}/${filter}`;
}

/**
 * Device topics parsed so far (valid ones only, bounded): a fleet has a few topics per device, and
 * every message from it has its topic parsed for the ACL and again for routing (~3% of the control
 * plane's CPU under a telemetry burst, more with an idle fleet's heartbeats).
 */
const TOPIC_CACHE_SIZE = 100_000;
const parsedTopics = new Map<string, Readonly<{ deviceId: string; verb: DeviceVerb }>>();

/** Parse a verge device topic; null when the topic is not one. The result is shared (frozen). */
export function parseDeviceTopic(topic: string): Readonly<{ deviceId: string; verb: DeviceVerb }> | null {
  const known = parsedTopics.get(topic);
  if (known) return known;
  const prefix = `${TOPIC_ROOT}/dev/`;
  if (!topic.startsWith(prefix)) return null;
  const rest = topic.slice(prefix.length).split('/');
  if (rest.length !== 2) return null;
  const [deviceId, verb] = rest as [string, string];
  if (!isDeviceId(deviceId) || !Object.hasOwn(VERBS, verb)) return null; // not an inherited name (`constructor`)
  const parsed = Object.freeze({ deviceId, verb: verb as DeviceVerb });
  if (parsedTopics.size >= TOPIC_CACHE_SIZE) parsedTopics.clear();
  parsedTopics.set(topic, parsed);
  return parsed;
}

/**
 * The ACL rule, in one place for the embedded broker and for generated external-broker configs:
 * a device may publish only its own device→cloud verbs and subscribe only to its own
 * cloud→device verbs. No wildcards, nothing of other devices.
 */
export function deviceMayPublish(deviceId: string, topic: string): boolean {
  const t = parseDeviceTopic(topic);
  return t !== null && t.deviceId === deviceId && VERBS[t.verb].from === 'device';
}

export function deviceMaySubscribe(deviceId: string, topicFilter: string): boolean {
  const t = parseDeviceTopic(topicFilter);
  return t !== null && t.deviceId === deviceId && VERBS[t.verb].from === 'cloud';
}
