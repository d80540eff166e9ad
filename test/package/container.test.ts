/**
 * The container image is real: scripts/build-image.sh builds it with podman from a base made of
 * Debian's packages (libc6, libgcc-s1, libstdc++6 unpacked) and Node's official binary, then one
 * container runs the control plane and two more run agents that enroll, receive a deployment and
 * answer a prediction over their HTTP API. Host networking on ephemeral ports; podman with runc and
 * cgroupfs (crun and the cgroup v2 controllers are refused on these machines).
 *
 * Opt-in (VERGE_CONTAINER_TEST=1): .ci/run sets it and runs this file beside the suite, with
 * VERGE_CONTAINER_PACKAGE naming the tarball it packed from its `npm run build` before the suite
 * started (the suite's pack test checks the same tarball); without it the script builds and packs
 * first. Skipped, with the reason,
 * where podman, runc or apt-get/dpkg-deb is missing or the user is not root; under CI=true with the
 * opt-in set, a missing tool fails.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudClient, waitForDeployment } from '../../src/cloud/index.ts';
import { HTTP_PATHS, type Deployment, type EnrollTokenResponse } from '../../src/protocol/index.ts';
import { freePort } from '../edge/brokers.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const TAG = 'localhost/verge:test';
const PODMAN = ['--runtime', 'runc', '--cgroup-manager=cgroupfs'];
/** Run flags seen working on these machines (the default ulimits are refused). */
const RUN = ['--network', 'host', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
const BUILD_TIMEOUT_MS = 1_200_000;
const SEED_CNN = join(ROOT, 'test', 'fixtures', 'models', 'seed_cnn_fmnist.onnx');

function missing(): string | undefined {
  for (const tool of ['podman', 'runc', 'apt-get', 'dpkg-deb']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  if (process.getuid?.() !== 0) return 'podman runs as root on these machines';
  return undefined;
}
const OPT_IN = process.env.VERGE_CONTAINER_TEST === '1';
const toolsMissing = missing();
if (OPT_IN && toolsMissing && process.env.CI === 'true')
  throw new Error(`required tool missing under CI: ${toolsMissing}`);
const skipReason = OPT_IN
  ? toolsMissing
  : 'opt-in (builds the image with podman; .ci/run runs it beside the suite): set VERGE_CONTAINER_TEST=1';

function podman(args: string[], timeout = 120_000): SpawnSyncReturns<string> {
  return spawnSync('podman', [...PODMAN, ...args], { encoding: 'utf8', timeout, maxBuffer: 64 * 2 ** 20 });
}

/** Generous: each container's Node start takes ~50 s at load 30 on 2 cores. */
async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 420_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe.skipIf(skipReason !== undefined)(
  `container image (podman)${skipReason ? ` — skipped: ${skipReason}` : ''}`,
  () => {
    const run = randomBytes(4).toString('hex');
    const containers: string[] = [];
    let imageMb = 0;

    beforeAll(() => {
      const pkg = process.env.VERGE_CONTAINER_PACKAGE;
      const r = spawnSync(join(ROOT, 'scripts', 'build-image.sh'), ['--tag', TAG, ...(pkg ? ['--package', pkg] : [])], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: BUILD_TIMEOUT_MS,
      });
      if (r.status !== 0) throw new Error(`build-image.sh exited ${r.status}: ${r.stderr.slice(-3000)}`);
      imageMb = Number(podman(['image', 'inspect', TAG, '--format', '{{.Size}}']).stdout.trim()) / 1e6;
      console.log(`image ${TAG}: ${imageMb.toFixed(1)} MB`);
    }, BUILD_TIMEOUT_MS);

    afterAll(() => {
      for (const c of containers) {
        if (process.env.VERGE_DEBUG) console.log(podman(['logs', c]).stderr);
        podman(['rm', '-f', '-t', '2', c]);
      }
    });

    function start(name: string, args: string[]): void {
      const c = `verge-${name}-${run}`;
      const r = podman(['run', '-d', '--name', c, ...RUN, TAG, ...args]);
      if (r.status !== 0) throw new Error(`podman run ${name}: ${r.stderr}`);
      containers.push(c);
    }

    it('is small and runs as a non-root user', () => {
      const user = podman(['image', 'inspect', TAG, '--format', '{{.Config.User}}']).stdout.trim();
      expect(user).toBe('10001:10001');
      // no shell or coreutils in the image: node itself reports its uid
      const uid = ['--entrypoint', '/usr/local/bin/node', TAG, '-p', 'process.getuid()'];
      expect(podman(['run', '--rm', ...RUN, ...uid]).stdout.trim()).toBe('10001');
      expect(imageMb).toBeGreaterThan(0);
      expect(imageMb).toBeLessThan(400); // 237 MB: Node 99, onnxruntime's linux-x64 CPU library 46, libvips 19, verge
      const version = podman(['run', '--rm', ...RUN, TAG, '--version']);
      expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    });

    it('a control plane and two agents in containers: enroll, deploy, predict', async () => {
      const [http, mqtt, a1, a2] = [await freePort(), await freePort(), await freePort(), await freePort()];
      start('cloud', [
        'cloud',
        '--host',
        '127.0.0.1',
        '--port',
        `${http}`,
        '--mqtt-port',
        `${mqtt}`,
        '--data-dir',
        '/data',
      ]);
      const url = `http://127.0.0.1:${http}`;
      const apiKey = await until('the admin key', async () => {
        const read = "process.stdout.write(require('fs').readFileSync('/data/admin.key', 'utf8'))";
        const r = podman(['exec', containers[0]!, '/usr/local/bin/node', '-e', read]);
        return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
      });
      const client = new CloudClient({ url, apiKey });
      await until('the API', () => client.get(HTTP_PATHS.health));
      // the browser app, its WebAssembly runtime served from the image's onnxruntime-web
      expect((await fetch(`${url}/train.html`)).status).toBe(200);
      const wasm = await fetch(`${url}/ort/ort-wasm-simd-threaded.wasm`);
      expect([wasm.status, wasm.headers.get('content-type')]).toEqual([200, 'application/wasm']);

      for (const [name, port] of [
        ['edge-a', a1],
        ['edge-b', a2],
      ] as const) {
        const { token } = await client.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, { tags: { site: run } });
        start(name, [
          'agent',
          '--cloud',
          url,
          '--enroll-token',
          token,
          '--name',
          name,
          '--port',
          `${port}`,
          '--data-dir',
          '/data/agent',
        ]);
      }
      await until('both agents online', async () => {
        const d = await client.get<{ devices: { name: string; status: string }[] }>(HTTP_PATHS.devices);
        return d.devices.filter((x) => x.status === 'online').length === 2 ? true : undefined;
      });

      const { sha256 } = await client.upload<{ sha256: string }>(HTTP_PATHS.artifacts, readFileSync(SEED_CNN));
      await client.post(HTTP_PATHS.models, { name: 'fmnist', version: '1.0.0', sha256 });
      const created = await client.post<Deployment>(HTTP_PATHS.deployments, {
        model: 'fmnist',
        version: '1.0.0',
        target: { tags: { site: run } },
      });
      const done = await waitForDeployment(client, created.id, { timeoutMs: 420_000, pollMs: 500 });
      expect(done.state).toBe('succeeded');
      expect(done.devices.map((d) => d.name).sort()).toEqual(['edge-a', 'edge-b']);

      const image = Array.from({ length: 28 * 28 }, (_, i) => (i % 28) / 28);
      for (const port of [a1, a2]) {
        const res = await fetch(`http://127.0.0.1:${port}/v1/models/fmnist:predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: { input: { dims: [1, 1, 28, 28], data: image } } }),
        });
        expect(res.status).toBe(200);
        const body = (await res.json()) as {
          outputs: Record<string, { dims: number[]; data: number[] }>;
          model: { name: string; version: string };
        };
        expect(body.model).toMatchObject({ name: 'fmnist', version: '1.0.0' });
        const out = Object.values(body.outputs)[0]!;
        expect(out.dims).toEqual([1, 10]);
        expect(out.data.every(Number.isFinite)).toBe(true);
      }
    }, 1_500_000);
  },
);

/**
 * The repository's Dockerfile (a build with a normal registry: node:20-slim, npm ci, npm run build)
 * cannot be built here, so this checks what it can without a daemon: its build stage copies every
 * file `npm run build` reads, and .dockerignore keeps none of them out. It once lacked
 * scripts/dist-package.mjs (the build failed) and, with `data` ignored, the Fashion-MNIST subset the
 * in-tab training page serves.
 */
describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
    .scripts;
  /** Paths the build stage copies from the context (COPY without --from, before the second FROM). */
  const copied = dockerfile
    .split(/^FROM /m)[1]!
    .split('\n')
    .filter((l) => /^COPY (?!--from)/.test(l))
    .flatMap((l) => l.trim().split(/\s+/).slice(1, -1));
  /** Whether .dockerignore keeps `path` out of the build context (its patterns in order, `!` re-includes). */
  const excluded = (path: string) =>
    ignored.reduce((out, pattern) => {
      const neg = pattern.startsWith('!');
      const p = neg ? pattern.slice(1) : pattern;
      const re = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/|$)`);
      return re.test(path) ? !neg : out;
    }, false);

  it('copies what `npm run build` reads into its build stage, and .dockerignore lets it through', () => {
    const needed = [
      'package.json',
      'package-lock.json',
      'src',
      // `node <file>` steps of the build scripts
      ...[scripts.build!, scripts['build:web']!].flatMap((s) => [...s.matchAll(/\bnode (\S+)/g)].map((m) => m[1]!)),
      // `tsc -p <config>` and the config it extends
      ...[...scripts.build!.matchAll(/tsc -p (\S+)/g)].map((m) => m[1]!),
      'tsconfig.json',
      // the browser app's build copies the Fashion-MNIST subset (src/web/build.ts)
      'data/fashion-mnist-subset',
    ];
    const covered = (f: string) =>
      copied.some((c) => f === c.replace(/\/$/, '') || f.startsWith(c.replace(/\/?$/, '/')));
    expect(needed.filter((f) => !covered(f))).toEqual([]);
    expect(needed.filter(excluded)).toEqual([]);
    expect(needed.every((f) => existsSync(join(ROOT, f)))).toBe(true);
  });
});
