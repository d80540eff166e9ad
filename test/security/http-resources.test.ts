/**
 * Finding 9 (low-medium): resources over HTTP. Eight concurrent 15.6 MB unauthenticated
 * `POST /v1/enroll` bodies froze the cloud, any JSON route read bodies up to 16 MB, and a client
 * trickling its body was never cut off. Attacked here on the real control plane over a socket.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HTTP_PATHS } from '../../src/protocol/index.ts';
import { startCloud, type Cloud } from './harness.ts';

const clouds: Cloud[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const c of clouds.splice(0)) await c.close().catch(() => undefined);
});

/** A JSON body of about `bytes` bytes that would be a valid-looking enrollment if it were parsed. */
function bigEnrollBody(bytes: number): string {
  return JSON.stringify({ token: 'x'.repeat(32), name: 'big', profile: { pad: 'y'.repeat(bytes) } });
}

describe('HTTP resources of the control plane', () => {
  it('refuses oversized unauthenticated enrollment bodies with 413 without parsing them', async () => {
    const cloud = await startCloud('sqlite');
    clouds.push(cloud);
    const body = bigEnrollBody(15.6e6);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        fetch(cloud.url + HTTP_PATHS.enroll, { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
      ),
    );
    for (const res of answers) {
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('E_TOO_LARGE');
    }
  }, 60_000);

  it('bounds the JSON body of an authenticated route too', async () => {
    const cloud = await startCloud('sqlite');
    clouds.push(cloud);
    const res = await fetch(cloud.url + HTTP_PATHS.enrollTokens, {
      method: 'POST',
      headers: { authorization: `Bearer ${cloud.cp.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tags: { site: 'x' }, pad: 'p'.repeat(2e6) }),
    });
    expect(res.status).toBe(413);
  });

  it('cuts off a client that trickles its request body', async () => {
    const cloud = await startCloud('sqlite', { httpBodyTimeoutMs: 1000 });
    clouds.push(cloud);
    const { hostname, port } = new URL(cloud.url);
    const socket = connect(Number(port), hostname);
    sockets.push(socket);
    socket.on('error', () => undefined);
    const closed = new Promise<boolean>((resolve) => socket.on('close', () => resolve(true)));
    const body = bigEnrollBody(1000);
    socket.write(
      `POST ${HTTP_PATHS.enroll} HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\n` +
        `content-length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    );
    const trickle = setInterval(() => socket.write(' '), 200); // a byte now and then, never the whole body
    try {
      expect(await Promise.race([closed, new Promise((r) => setTimeout(() => r(false), 10_000))])).toBe(true);
    } finally {
      clearInterval(trickle);
    }
    // and the cloud still answers everyone else
    expect((await fetch(cloud.url + HTTP_PATHS.health)).status).toBe(200);
  }, 30_000);
});
