/**
 * MQTT over WebSocket at `GET /v1/mqtt` (subprotocol `mqtt`), bridged byte for byte to the control
 * plane's broker (the embedded one or an external Mosquitto): a browser tab cannot open a TCP
 * socket, so this is how it joins the fleet as a device (src/web/app/fl-device.ts). The bridge
 * reads nothing: the broker authenticates the MQTT CONNECT with the device's credentials and
 * applies the same per-device ACLs and packet limit as on its TCP port. Bounded: at most
 * MAX_MQTT_WS_CONNECTIONS bridged sockets, WebSocket messages up to the broker's packet limit, and
 * every bridge closed when the control plane closes.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { HTTP_ROUTES, MAX_MQTT_PACKET_BYTES } from '../../protocol/index.ts';

/** Browser devices bridged at once (each holds two sockets). */
export const MAX_MQTT_WS_CONNECTIONS = 256;
/** Longest wait for the broker to accept the bridge's TCP connection. */
const BROKER_CONNECT_TIMEOUT_MS = 10_000;

export interface MqttWsOptions {
  /** The broker's URL (`mqtt://` or `mqtts://`), null before the control plane started it. */
  brokerUrl: () => string | null;
}

/** Refuse an upgrade with a plain HTTP status (the socket is not a WebSocket yet). */
function refuse(socket: Duplex, status: number, text: string): void {
  const body = JSON.stringify({ error: { code: status === 503 ? 'E_OVERLOADED' : 'E_NOT_FOUND', message: text } });
  socket.end(
    `HTTP/1.1 ${status} ${status === 503 ? 'Service Unavailable' : 'Not Found'}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function brokerSocket(url: string): Socket {
  const u = new URL(url);
  const host = u.hostname === '0.0.0.0' || u.hostname === '' ? '127.0.0.1' : u.hostname;
  const tls = u.protocol === 'mqtts:';
  const port = Number(u.port) || (tls ? 8883 : 1883);
  return tls ? tlsConnect({ host, port, servername: host }) : tcpConnect({ host, port });
}

export const mqttWebSocketRoutes: FastifyPluginAsync<MqttWsOptions> = async (app, opts) => {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_MQTT_PACKET_BYTES + 16,
    // MQTT over WebSocket names its subprotocol `mqtt` (MQTT 3.1.1 §6); accept clients that send none too
    handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
  });
  const open = new Set<() => void>();

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== HTTP_ROUTES.mqtt) return refuse(socket, 404, `no WebSocket endpoint at ${path}`);
    const url = opts.brokerUrl();
    if (!url) return refuse(socket, 503, 'the broker is not running yet');
    if (open.size >= MAX_MQTT_WS_CONNECTIONS)
      return refuse(socket, 503, `this control plane already bridges ${MAX_MQTT_WS_CONNECTIONS} WebSocket devices`);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const client = createWebSocketStream(ws);
      const broker = brokerSocket(url);
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
