/**
 * A throttled artifact server for fault tests: serves byte strings with Range support, slowly
 * (so a client can be killed mid-download), and records the Range header of every request.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ThrottledServer {
  url: (path: string) => string;
  ranges: (string | undefined)[];
  /** Chunk size and pause between chunks; change between attempts to speed up the resume. */
  throttle: { chunk: number; delayMs: number };
  /** When false the server ignores Range and always answers 200 with the whole file. */
  honorRange: boolean;
  close: () => Promise<void>;
  server: Server;
}

export async function startThrottledServer(files: Record<string, Uint8Array>): Promise<ThrottledServer> {
  const state: ThrottledServer = {
    url: () => '',
    ranges: [],
    throttle: { chunk: 16 * 1024, delayMs: 25 },
    honorRange: true,
    close: async () => undefined,
    server: undefined as unknown as Server,
  };
  const server = createServer(async (req, res) => {
    const body = files[req.url ?? ''];
    state.ranges.push(req.headers.range);
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && state.honorRange) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, {
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
        'content-length': body.length - start,
      });
    } else {
      res.writeHead(200, { 'content-length': body.length, 'accept-ranges': 'bytes' });
    }
    for (let off = start; off < body.length; off += state.throttle.chunk) {
      if (res.destroyed) return;
      res.write(body.subarray(off, Math.min(body.length, off + state.throttle.chunk)));
      if (state.throttle.delayMs) await new Promise((r) => setTimeout(r, state.throttle.delayMs));
    }
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  state.server = server;
  state.url = (path: string) => `http://127.0.0.1:${port}${path}`;
  state.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}
