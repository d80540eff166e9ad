/**
 * Real MQTT brokers for edge tests: an in-process aedes (the embedded default) and a Mosquitto
 * process started here on an ephemeral port (so a test may kill and restart it without touching
 * the machine's shared Mosquitto on 1883).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';

export const MOSQUITTO_BIN = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p));

export interface TestBroker {
  kind: 'aedes' | 'mosquitto';
  url: string;
  port: number;
  /** Take the broker down (all connections drop). */
  stop(): Promise<void>;
  /** Bring it back on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
  /** The broker's process id while it runs (Mosquitto; undefined for the in-process aedes). */
  readonly pid?: number;
}

/**
 * Ports for servers a test starts, stops and starts again on the same port, drawn at random below
 * the kernel's ephemeral range (32768–60999 by default). A port the kernel hands out meanwhile —
 * another test's `listen(0)` or the local end of any outgoing connection — comes from that range,
 * so it cannot take a port from here while its server is down (CI failed on exactly that: a
 * restarted control plane found its port taken). Only other draws from here can collide, and a
 * drawn port is checked free by binding it.
 */
const RESTARTABLE_PORTS = { low: 20_000, high: 32_000 } as const;

export async function freePort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = RESTARTABLE_PORTS.low + Math.floor(Math.random() * (RESTARTABLE_PORTS.high - RESTARTABLE_PORTS.low));
    const s = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) {
      await new Promise((r) => s.close(r));
      return port;
    }
    if (attempt > 100) throw new Error(`no free port in ${RESTARTABLE_PORTS.low}-${RESTARTABLE_PORTS.high}`);
  }
}

/** How long a restart on the same port waits for the port to be free again. */
const PORT_RETRY_MS = 20_000;

/**
 * Run `start` (which listens on a fixed port) until it does not fail with EADDRINUSE. A server
 * restarted on its old port may find it taken meanwhile by another test's client connection (its
 * local port is drawn from the same ephemeral range as the listeners'); that lasts as long as the
 * connection, so it is tried again for a while. `undo` releases what a failed attempt holds.
 */
export async function retryWhilePortTaken<T>(start: () => Promise<T>, undo?: () => Promise<void>): Promise<T> {
  const until = Date.now() + PORT_RETRY_MS;
  for (;;) {
    try {
      return await start();
    } catch (e) {
      if ((e as { code?: string }).code !== 'EADDRINUSE' || Date.now() > until) throw e;
      await undo?.().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => (c.destroy(), resolve(true)));
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * In-process aedes. `onPublish` sees every message the broker accepts, as an embedded control
 * plane does (it needs no subscription, so nothing published right after a restart is missed).
 */
export async function startAedes(onPublish?: (topic: string, payload: Buffer) => void): Promise<TestBroker> {
  let server: Server | undefined;
  let broker: Aedes | undefined;
  let port = 0;
  const up = async () => {
    broker = await Aedes.createBroker();
    if (onPublish)
      broker.on('publish', (packet, client) => client && onPublish(packet.topic, packet.payload as Buffer));
    const s = createServer(broker.handle);
    await retryWhilePortTaken(
      () =>
        new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.listen(port, '127.0.0.1', () => resolve());
        }),
    );
    port = (s.address() as { port: number }).port;
    server = s;
  };
  const down = async () => {
    const s = server;
    const b = broker;
    server = undefined;
    broker = undefined;
    if (b) await new Promise<void>((r) => b.close(() => r()));
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  await up();
  return {
    kind: 'aedes',
    get url() {
      return `mqtt://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    stop: down,
    start: up,
    close: down,
  };
}

/**
 * A private Mosquitto on a free port. `config` replaces the default delivery settings
 * (`max_queued_messages 10000`) with other mosquitto.conf lines, e.g. verge's recommended ones
 * (MOSQUITTO_CONFIG in src/cloud/mosquitto-auth.ts).
 */
export async function startMosquitto(config: string[] = ['max_queued_messages 10000']): Promise<TestBroker> {
  if (!MOSQUITTO_BIN) throw new Error('mosquitto is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'verge-mosq-'));
  // Started as root, mosquitto drops to its own user; it must still be able to save its state here.
  chmodSync(dir, 0o777);
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence true',
      `persistence_location ${dir}/`,
      'log_dest none',
      ...config,
      '',
    ].join('\n'),
  );
  let proc: ChildProcess | undefined;
  // mosquitto exits at once when it cannot bind: that exit, before the port answers, is EADDRINUSE
  const up = () =>
    retryWhilePortTaken(async () => {
      const p = spawn(MOSQUITTO_BIN, ['-c', conf], { stdio: 'ignore' });
      proc = p;
      const exited = new Promise<never>((_, reject) =>
        p.once('exit', () =>
          reject(Object.assign(new Error(`mosquitto exited on 127.0.0.1:${port}`), { code: 'EADDRINUSE' })),
        ),
      );
      exited.catch(() => undefined); // a later exit (stop) is not an error
      await Promise.race([waitForPort(port), exited]);
    });
  const down = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    // SIGTERM: mosquitto writes its persistence file and exits, as a service restart does.
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill('SIGTERM');
    });
  };
  await up();
  return {
    kind: 'mosquitto',
    url: `mqtt://127.0.0.1:${port}`,
    port,
    get pid() {
      return proc?.pid;
    },
    stop: down,
    start: up,
    close: async () => {
      await down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Why a Mosquitto test cannot run here, or undefined. Under CI a missing broker is a failure, not a skip. */
export function mosquittoSkipReason(): string | undefined {
  if (MOSQUITTO_BIN) return undefined;
  if (process.env.CI === 'true') throw new Error('CI=true but mosquitto is not installed (apt-get install mosquitto)');
  return 'mosquitto not installed (apt-get install mosquitto)';
}
