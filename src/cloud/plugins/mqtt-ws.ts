/**
 * MQTT over WebSocket at `GET /v1/mqtt` (subprotocol `mqtt`), bridged byte for byte to the control
 * plane's broker (the embedded one or an external Mosquitto): a browser tab cannot open a TCP
 * socket, so this is how it joins the fleet as a device (src/web/app/fl-device.ts). The bridge
 * reads nothing: the broker authenticates the MQTT CONNECT with the device's credentials and
 * applies the same per-device ACLs and packet limit as on its TCP port. Bounded: at most
 * MAX_MQTT_WS_CONNECTIONS bridged sockets and MAX_MQTT_WS_PER_ADDRESS from one client address
 * (so one client cannot take every slot before it authenticates), upgrades counted in the
 * address's request rate (`admit`: upgrades bypass Fastify's hooks, where the HTTP rate limit
 * sits), WebSocket messages up to the broker's packet limit, and every bridge closed when the
 * control plane closes.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { HTTP_ROUTES, MAX_MQTT_PACKET_BYTES } from '../../protocol/index.ts';

/** Browser devices bridged at once (each holds two sockets). */
export const MAX_MQTT_WS_CONNECTIONS = 256;
/** Bridges one client address may hold: an eighth of all, room for a lab of tabs behind one NAT. */
export const MAX_MQTT_WS_PER_ADDRESS = 32;
/** Longest wait for the broker to accept the bridge's TCP connection. */
const BROKER_CONNECT_TIMEOUT_MS = 10_000;

export interface MqttWsOptions {
  /** The broker's URL (`mqtt://` or `mqtts://`), null before the control plane started it. */
  brokerUrl: () => string | null;
  /** How to verify an `mqtts://` broker (mqtt-transport.ts clientTls). */
  brokerTls?: { ca?: string; rejectUnauthorized: boolean };
  /** The request rate of an unauthenticated address (rate-limit.ts): 0 admits, else seconds to wait. */
  admit?: (address: string) => number;
}

const REASONS: Record<number, [string, string]> = {
  404: ['Not Found', 'E_NOT_FOUND'],
  429: ['Too Many Requests', 'E_OVERLOADED'],
  503: ['Service Unavailable', 'E_OVERLOADED'],
};

/** Refuse an upgrade with a plain HTTP status (the socket is not a WebSocket yet). */
function refuse(socket: Duplex, status: 404 | 429 | 503, text: string, retryAfter?: number): void {
  const [reason, code] = REASONS[status]!;
  const body = JSON.stringify({ error: { code, message: text } });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\n` +
      (retryAfter ? `retry-after: ${retryAfter}\r\n` : '') +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function brokerSocket(url: string, verify: MqttWsOptions['brokerTls']): Socket {
  const u = new URL(url);
  const host = u.hostname === '0.0.0.0' || u.hostname === '' ? '127.0.0.1' : u.hostname;
  const tls = u.protocol === 'mqtts:';
  const port = Number(u.port) || (tls ? 8883 : 1883);
  if (!tls) return tcpConnect({ host, port });
  return tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...(verify ?? {}) });
}

export const mqttWebSocketRoutes: FastifyPluginAsync<MqttWsOptions> = async (app, opts) => {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_MQTT_PACKET_BYTES + 16,
    // MQTT over WebSocket names its subprotocol `mqtt` (MQTT 3.1.1 §6); accept clients that send none too
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
  });
  const open = new Set<() => void>();
  const perAddress = new Map<string, number>();

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== HTTP_ROUTES.mqtt) return refuse(socket, 404, `no WebSocket endpoint at ${path}`);
    const url = opts.brokerUrl();
    if (!url) return refuse(socket, 503, 'the broker is not running yet');
    const address = req.socket.remoteAddress ?? '';
    const wait = opts.admit?.(address) ?? 0;
    if (wait > 0) return refuse(socket, 429, `too many requests from this address; retry in ${wait} s`, wait);
    const held = perAddress.get(address) ?? 0;
    if (held >= MAX_MQTT_WS_PER_ADDRESS)
      return refuse(socket, 429, `this address already holds ${MAX_MQTT_WS_PER_ADDRESS} WebSocket bridges`, 1);
    if (open.size >= MAX_MQTT_WS_CONNECTIONS)
      return refuse(socket, 503, `this control plane already bridges ${MAX_MQTT_WS_CONNECTIONS} WebSocket devices`);
    // counted from the upgrade on, so bridges still handshaking count too
    perAddress.set(address, held + 1);
    socket.once('close', () => {
      const n = (perAddress.get(address) ?? 1) - 1;
      if (n > 0) perAddress.set(address, n);
      else perAddress.delete(address);
    });
    wss.handleUpgrade(req, socket, head, (ws) => {
      const client = createWebSocketStream(ws);
      const broker = brokerSocket(url, opts.brokerTls);
      const timer = setTimeout(() => broker.destroy(new Error('broker connect timeout')), BROKER_CONNECT_TIMEOUT_MS);
      broker.once('connect', () => clearTimeout(timer));
      broker.once('secureConnect', () => clearTimeout(timer));
      const end = () => {
        if (!open.delete(end)) return;
        clearTimeout(timer);
        broker.destroy();
        client.destroy();
      };
      open.add(end);
      client.on('error', end).on('close', end);
      broker.on('error', end).on('close', end);
      client.pipe(broker);
      broker.pipe(client);
    });
  };
  app.server.on('upgrade', onUpgrade);
  app.addHook('preClose', async () => {
    app.server.off('upgrade', onUpgrade);
    for (const end of [...open]) end();
    wss.close();
  });
};
