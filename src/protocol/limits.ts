/**
 * Size limits of the wire: every list, record and string a peer sends is bounded, so one device
 * (or one request) cannot make the control plane parse, store or aggregate an unbounded amount.
 * Receivers check the byte size first (before JSON.parse), then the schemas bound each field.
 */

/**
 * Largest MQTT packet the embedded broker accepts and `max_packet_size` of the generated Mosquitto
 * configuration. The largest message verge itself sends is a deploy message: MAX_DESIRED_MODELS ×
 * MAX_MODEL_VARIANTS artifact refs of ≤ ~750 bytes (with MAX_LOADED_MEMORY_POINTS) ≈ 0.75 MB.
 */
export const MAX_MQTT_PACKET_BYTES = 1024 * 1024;
/**
 * Largest device → cloud message (heartbeat, telemetry, status, ack). The largest honest one is a
 * heartbeat with MAX_SERVED_MODELS models (~16 KB) or a telemetry record with MAX_RESULT_KEYS
 * result classes (~18 KB); 64 KiB leaves room for long strings within their caps.
 */
export const MAX_DEVICE_MESSAGE_BYTES = 64 * 1024;
/**
 * Telemetry message ids one receipt command names (≤ 128 characters each: ≤ 128 KiB). The cloud
 * sends more in several commands.
 */
export const MAX_RECEIPT_IDS = 1000;
/**
 * Telemetry records one batched telemetry message may carry (protocol/messages.ts
 * TelemetryBatchMessage); the message as a whole stays within MAX_DEVICE_MESSAGE_BYTES. A typical
 * record is ~600 bytes: 100 of them are ~60 KiB, about what the byte bound admits anyway.
 */
export const MAX_TELEMETRY_BATCH = 100;
/** Result classes one telemetry record may report (classifiers beyond this sum the rest themselves). */
export const MAX_RESULT_KEYS = 256;
/** Models one agent may report serving in a heartbeat, and may be asked to serve by a deploy message. */
export const MAX_SERVED_MODELS = 32;
export const MAX_DESIRED_MODELS = MAX_SERVED_MODELS;
/** Variants of one model version (precisions × profiles; an optimize sweep makes ~10). */
export const MAX_MODEL_VARIANTS = 32;
/** Batch sizes a variant's measured loaded memory may be given for (`verge optimize` measures 1, 32 and the target's). */
export const MAX_LOADED_MEMORY_POINTS = 4;
/** Tags on a device or in a target; metrics of a model version. */
export const MAX_TAGS = 64;
export const MAX_MODEL_METRICS = 64;
/** Devices one deployment or FL job may name explicitly (larger fleets are targeted by tags). */
export const MAX_TARGET_DEVICES = 10_000;
/** Accelerators and precisions an agent may list in its profile. */
export const MAX_ACCELERATORS = 16;
/** A device's public key at enrollment: a 4096-bit RSA SPKI PEM is ~800 characters. */
export const MAX_CLIENT_PUBLIC_KEY_PEM = 2048;
/** A client certificate the cloud issues (~1.1 KB for a 2048-bit key, ~1.7 KB for 4096). */
export const MAX_CERTIFICATE_PEM = 8192;

/** A refinement message for a record with more than `max` entries. */
export function maxEntries(max: number, what: string): [(r: Record<string, unknown>) => boolean, string] {
  return [(r) => Object.keys(r).length <= max, `at most ${max} ${what}`];
}
