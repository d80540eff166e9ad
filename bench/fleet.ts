/**
 * Fleet benchmark: one control plane, thousands of simulated agents over a real MQTT broker
 * (the embedded aedes broker, and a Mosquitto process when installed).
 *
 *   npm run bench -- fleet [--connected 10000] [--rollout 1000] [--messages 50] [--workers 2] [--brokers embedded,mosquitto] [--name fleet]
 *                          [--cpu-prof DIR] [--label TEXT] [--baseline FILE] [--mosquitto-conf 'LINE;LINE'] [--batch N] [--quick]
 *
 * `--quick`: 1,000 agents, rollout to all of them, 20 messages each (~1-2 min per broker on 2 cores);
 * the full run (10,000 agents) takes ~10-15 min per broker.
 *
 * Measures (per broker): devices enrolled and connected (each its own MQTT connection and
 * credentials, spread over worker processes: one process cannot hold 10,000 client sockets next to
 * the broker's 10,000 under a 20,000 file-descriptor limit), rollout time of a deployment to
 * `--rollout` devices (deploy → every device downloaded, verified sha256 + signature, acked
 * loaded → deployment succeeded), and telemetry throughput: `--messages` QoS 1 records from each
 * rollout device, timed until the control plane has stored every one (distinct ids counted in its
 * database: lost = sent − stored). Records are what is counted: with batches (`--batch N`, the
 * agents' own bound on telemetry records per MQTT message; 1 = one record per message, as before
 * batches; default the protocol's MAX_TELEMETRY_BATCH) one MQTT message carries several, and the
 * result gives records/s and MQTT messages/s separately, with the messages' size distribution.
 *
 * `--cpu-prof DIR` writes V8 CPU profiles of the control-plane process (the cloud and, for the
 * embedded broker, aedes): DIR/fleet-<broker>-connect.cpuprofile covers the connect phase,
 * DIR/fleet-<broker>-idle.cpuprofile the idle fleet before it (`--idle-s` seconds, connected, nothing
 * sent), DIR/fleet-<broker>.cpuprofile the telemetry phase (open in Chrome DevTools or summarize with
 * `npx tsx bench/fleet/profile-summary.ts FILE`), and DIR/fleet-<broker>-agents-<i>.cpuprofile each
 * simulated-agent worker's telemetry phase (first publish to last receipt).
 * `--label` names this run in its result; `--baseline FILE` (the result of an earlier run, e.g. of
 * the code before a change, run just before on the same machine) is embedded in the result and its
 * telemetry rate printed beside this one's, with the ratio.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildControlPlane, type ControlPlane } from '../src/cloud/index.ts';
import { HTTP_PATHS, type Deployment, type EnrollResponse, type StatusResponse } from '../src/protocol/index.ts';
import { MOSQUITTO_BIN, startMosquitto, type TestBroker } from '../test/edge/brokers.ts';
import mqtt from 'mqtt';
import { MOSQUITTO_CONFIG } from '../src/cloud/mosquitto-auth.ts';
import { CLOCK_TICKS, printTable, procStatFields, round, writeResult } from './lib.ts';
import { OUTBOX_BATCH, RECEIPT_TIMEOUT_MS } from '../src/edge/outbox-pump.ts';
import { SIM_PROFILE } from './fleet/sim-profile.ts';
import { startCpuProfile, writeCpuProfile } from './fleet/cpu-profile.ts';

const here = dirname(fileURLToPath(import.meta.url));
const ARTIFACT = join(here, '..', 'test', 'fixtures', 'models', 'seed_cnn.onnx');
/** Enrollment requests in flight at once (HTTP handlers injected into the control plane). */
const ENROLL_CONCURRENCY = 64;
const STEP_TIMEOUT_MS = 300_000;
/**
 * No new telemetry stored for this long (after the devices finished publishing) = the rest is lost.
 * Longer than the agents' receipt timeout: what a broker dropped is sent again after it.
 */
const STALL_MS = RECEIPT_TIMEOUT_MS + 15_000;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const QUICK = process.argv.includes('--quick');
const CONNECTED = Number(arg('connected', QUICK ? '1000' : '10000'));
const ROLLOUT = Math.min(CONNECTED, Number(arg('rollout', '1000')));
const MESSAGES = Number(arg('messages', QUICK ? '20' : '50'));
const WORKERS = Number(arg('workers', '2'));
const BROKERS = arg('brokers', MOSQUITTO_BIN ? 'embedded,mosquitto' : 'embedded').split(',');
const CPU_PROF = arg('cpu-prof', '');
const LABEL = arg('label', '');
/** The control plane's idle CPU (fleet connected, no telemetry) is measured this long before the telemetry phase. */
const IDLE_MS = Number(arg('idle-s', '3')) * 1000;
const BASELINE = arg('baseline', '');
/** Extra mosquitto.conf lines for this run, ';'-separated (an A/B of a broker setting), after verge's recommended ones. */
/** The simulated agents' own bound on telemetry records per MQTT message (1: no batches). */
const BATCH = Number(arg('batch', String(OUTBOX_BATCH)));
const MOSQUITTO_EXTRA = arg('mosquitto-conf', '')
  .split(';')
  .map((l) => l.trim())
  .filter(Boolean);

const log = (s: string) => process.stderr.write(s + '\n');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Worker {
  proc: ChildProcess;
  /** The worker's next `ev` message; rejects when the worker exits first or after `timeoutMs`. */
  next(ev: string, timeoutMs?: number): Promise<any>;
}

function startWorker(): Promise<Worker> {
  const proc = fork(join(here, 'fleet', 'sim-agents.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<string, { resolve: (m: any) => void; reject: (e: Error) => void }>();
  const early = new Map<string, any>();
  proc.on('message', (m: any) => {
    if (m.ev === 'progress') return log(`  worker ${proc.pid}: ${m.ok} connected, ${m.failed} failed`);
    const w = waiting.get(m.ev);
    if (w) {
      waiting.delete(m.ev);
      w.resolve(m);
    } else early.set(m.ev, m);
  });
  // one exit listener for every wait (was one more per awaited event)
  proc.once('exit', (code) => {
    for (const [ev, w] of waiting) w.reject(new Error(`fleet worker exited (${code}) while waiting for '${ev}'`));
    waiting.clear();
  });
  const worker: Worker = {
    proc,
    next: (ev, timeoutMs) =>
      new Promise((resolve, reject) => {
        if (early.has(ev)) {
          const m = early.get(ev);
          early.delete(ev);
          return resolve(m);
        }
        if (proc.exitCode !== null) return reject(new Error(`fleet worker exited (${proc.exitCode}) before '${ev}'`));
        const timer =
          timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                waiting.delete(ev);
                reject(new Error(`fleet worker ${proc.pid}: no '${ev}' within ${timeoutMs / 1000} s`));
              }, timeoutMs);
        const done = () => clearTimeout(timer);
        waiting.set(ev, {
          resolve: (m) => (done(), resolve(m)),
          reject: (e) => (done(), reject(e)),
        });
      }),
  };
  return worker.next('up').then(() => worker);
}

async function inject<T>(
  cp: ControlPlane,
  method: 'GET' | 'POST',
  url: string,
  payload?: unknown,
  raw?: Buffer,
): Promise<T> {
  const res = await cp.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${cp.adminKey}`, ...(raw ? { 'content-type': 'application/octet-stream' } : {}) },
    payload: raw ?? (payload as object | undefined),
  });
  if (res.statusCode >= 400) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body.slice(0, 300)}`);
  return res.json() as T;
}

async function status(cp: ControlPlane): Promise<StatusResponse> {
  await cp.flush();
  return inject<StatusResponse>(cp, 'GET', HTTP_PATHS.status);
}

/**
 * Telemetry records stored so far, from the control plane's own counter of fresh records written
 * (`verge_telemetry_records_total{result="accepted"}`, incremented after each batch commits).
 * Polled every 50 ms while measuring, so it must cost nothing: a COUNT(*) over the telemetry table
 * (what this read before) is a scan of every stored row, in the measured process, 20 times a
 * second — its cost grew with the table and with the phase's length, so it inflated the CPU per
 * message most in the slowest runs. The database's count of distinct ids is read once at the end
 * (`storedInDb`): that is what `lost` is computed from.
 */
async function storedCount(cp: ControlPlane): Promise<number> {
  const m = await cp.metrics.telemetryRecords.get();
  return m.values.reduce((n, v) => n + (v.labels.result === 'accepted' ? v.value : 0), 0);
}

/** Distinct telemetry message ids in the database. */
async function storedInDb(cp: ControlPlane): Promise<number> {
  return (await cp.repos.telemetry.totals()).messages;
}

/** Counters from the control plane's /metrics: telemetry duplicates, and telemetry messages its MQTT client received. */
async function counters(cp: ControlPlane): Promise<{ duplicates: number; received: number }> {
  const text = (await cp.app.inject({ method: 'GET', url: '/metrics' })).body;
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  return {
    duplicates: value(/verge_telemetry_records_total\{result="duplicate"\} (\d+)/),
    received: value(/verge_mqtt_messages_total\{verb="telemetry"\} (\d+)/),
  };
}

/** CPU seconds (user + system) this process used since `since`. */
function cpuSeconds(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}

/** CPU seconds a process has used (user, system), from /proc/PID/stat; NaN when it cannot be read. */
function processCpu(pid: number | undefined): { user: number; system: number } {
  const f = pid === undefined ? undefined : procStatFields(`/proc/${pid}/stat`);
  return f ? { user: Number(f[11]) / CLOCK_TICKS, system: Number(f[12]) / CLOCK_TICKS } : { user: NaN, system: NaN };
}

/** With --cpu-prof: start sampling this process (the control plane and, embedded, the broker). */
async function startProfile(): Promise<Session | undefined> {
  return CPU_PROF ? startCpuProfile() : undefined;
}

async function stopProfile(profiler: Session | undefined, name: string, what: string): Promise<void> {
  if (!profiler) return;
  const file = join(CPU_PROF, `${name}.cpuprofile`);
  await writeCpuProfile(profiler, file);
  log(`${what}: ${file}`);
}

/** Mosquitto's count of dropped messages, as its $SYS tree publishes it (sys_interval). */
async function sysCounters(url: string): Promise<{ dropped(): number; close(): void }> {
  const c = await mqtt.connectAsync(url, { clientId: `bench-sys-${process.pid}`, reconnectPeriod: 0 });
  let dropped = 0;
  c.on('message', (_t, p) => (dropped = Number(p.toString())));
  await c.subscribeAsync('$SYS/broker/publish/messages/dropped');
  return { dropped: () => dropped, close: () => void c.end(true) };
}

async function runOne(kind: string): Promise<Record<string, unknown>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'verge-bench-fleet-'));
  let broker: TestBroker | undefined;
  const workers: Worker[] = [];
  let cp: ControlPlane | undefined;
  try {
    // verge's recommended delivery settings (the lines verge.conf carries), and $SYS every second
    // so the bench can read how many messages Mosquitto dropped
    if (kind === 'mosquitto')
      broker = await startMosquitto([...MOSQUITTO_CONFIG, ...MOSQUITTO_EXTRA, 'sys_interval 1']);
    const brokerSys = broker ? await sysCounters(broker.url) : undefined;
    cp = await buildControlPlane({
      dataDir,
      broker: broker?.url,
      instanceId: broker ? `bench-${process.pid}` : undefined,
      tickMs: 250,
      // 10,000 enrollments from one address, as fast as the cloud takes them: the per-address
      // limit of unauthenticated requests (rate-limit.ts) would pace them at 20/s, and the admin
      // key's (burst 1,000) would refuse the 10,000 enrollment tokens it creates first
      rateLimits: { anonymousPerSecond: 1e6, anonymousBurst: 1e6, operatorPerSecond: 1e6, operatorBurst: 1e6 },
    });
    const { url, mqttUrl } = await cp.start({ port: 0 });
    log(`[${kind}] control plane ${url}, broker ${mqttUrl}${broker?.pid ? ` (Mosquitto pid ${broker.pid})` : ''}`);

    // enroll
    const t0 = performance.now();
    const creds: { id: string; password: string }[] = [];
    let cloudBatch = 1;
    for (let i = 0; i < CONNECTED; i += ENROLL_CONCURRENCY) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(ENROLL_CONCURRENCY, CONNECTED - i) }, async (_, k) => {
          const n = i + k;
          const { token } = await inject<{ token: string }>(cp!, 'POST', HTTP_PATHS.enrollTokens, {
            tags: { group: n < ROLLOUT ? 'rollout' : 'idle' },
          });
          const e = await inject<EnrollResponse>(cp!, 'POST', HTTP_PATHS.enroll, {
            token,
            name: `sim-${n}`,
            profile: SIM_PROFILE,
          });
          cloudBatch = e.telemetry_batch ?? 1;
          return { id: e.device_id, password: e.credentials.password };
        }),
      );
      creds.push(...batch);
      if ((i / ENROLL_CONCURRENCY) % 20 === 0) log(`  enrolled ${creds.length}/${CONNECTED}`);
    }
    const enrollS = (performance.now() - t0) / 1000;
    log(`[${kind}] enrolled ${creds.length} devices in ${enrollS.toFixed(1)} s`);

    // connect
    for (let w = 0; w < WORKERS; w++) workers.push(await startWorker());
    const connectProfiler = await startProfile();
    const cpu1 = process.cpuUsage();
    const t1 = performance.now();
    workers.forEach((w, i) =>
      w.proc.send({
        cmd: 'init',
        brokerUrl: mqttUrl,
        cloudUrl: url,
        publicKeyPem: cp!.signingKey.publicKeyPem,
        agents: creds.filter((_, k) => k % WORKERS === i),
        batch: BATCH,
        cloudBatch,
      }),
    );
    const conn = await Promise.all(workers.map((w) => w.next('connected')));
    const connectS = (performance.now() - t1) / 1000;
    const connectCpuS = cpuSeconds(cpu1);
    await stopProfile(connectProfiler, `fleet-${kind}-connect`, `[${kind}] CPU profile of the connect phase`);
    const connected = conn.reduce((a, c) => a + c.ok, 0);
    log(
      `[${kind}] ${connected} connected (${conn.reduce((a, c) => a + c.failed, 0)} failed) in ${connectS.toFixed(1)} s`,
    );
    let online = 0;
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      online = (await status(cp)).devices.online;
      if (online >= connected) break;
      await sleep(500);
    }
    log(`[${kind}] the control plane sees ${online} devices online`);

    // rollout
    const artifact = readFileSync(ARTIFACT);
    const a = await inject<{ sha256: string }>(cp, 'POST', HTTP_PATHS.artifacts, undefined, artifact);
    await inject(cp, 'POST', HTTP_PATHS.models, {
      name: 'seed',
      version: '1.0.0',
      sha256: a.sha256,
      variant: 'fp32',
      precision: 'fp32',
    });
    const t2 = performance.now();
    let dep = await inject<Deployment>(cp, 'POST', HTTP_PATHS.deployments, {
      model: 'seed',
      version: '1.0.0',
      target: { tags: { group: 'rollout' } },
      strategy: 'all',
    });
    const rolloutUntil = Date.now() + STEP_TIMEOUT_MS;
    // the state alone while waiting (the API's view reads every device of the fleet for their names)
    let state: string = dep.state;
    while (state === 'rolling' && Date.now() < rolloutUntil) {
      await sleep(200);
      state = (await cp.repos.deployments.get(dep.id))?.state ?? 'missing';
    }
    dep = await inject<Deployment>(cp, 'GET', HTTP_PATHS.deployment(dep.id));
    const rolloutS = (performance.now() - t2) / 1000;
    const loaded = dep.devices.filter((d) => d.state === 'loaded').length;
    log(
      `[${kind}] rollout to ${dep.devices.length} devices: ${dep.state}, ${loaded} loaded, ${rolloutS.toFixed(1)} s (${artifact.length} byte artifact each)`,
    );

    // telemetry
    const rolloutIds = new Set(creds.slice(0, ROLLOUT).map((c) => c.id));
    workers.forEach((w, i) =>
      w.proc.send({
        cmd: 'telemetry',
        perAgent: MESSAGES,
        only: creds.filter((c, k) => k % WORKERS === i && rolloutIds.has(c.id)).map((c) => c.id),
      }),
    );
    const ready = await Promise.all(workers.map((w) => w.next('ready')));
    const total = ready.reduce((s, r) => s + r.messages, 0);
    const base = await storedCount(cp);
    const baseInDb = await storedInDb(cp);
    const droppedBase = brokerSys?.dropped() ?? 0;
    const countBase = await counters(cp);
    // the process's CPU while the fleet is idle (heartbeats of every connected device, the ticker,
    // this loop's polling): the telemetry phase pays it too, for as long as it lasts
    const idleProfiler = await startProfile();
    const cpuIdle = process.cpuUsage();
    const brokerCpuIdle = processCpu(broker?.pid);
    const tIdle = performance.now();
    while (performance.now() - tIdle < IDLE_MS) {
      await storedCount(cp);
      await sleep(50);
    }
    const idleCpuPerS = cpuSeconds(cpuIdle) / ((performance.now() - tIdle) / 1000);
    const brokerCpuIdleEnd = processCpu(broker?.pid);
    const brokerIdleCpuPerS =
      (brokerCpuIdleEnd.user + brokerCpuIdleEnd.system - brokerCpuIdle.user - brokerCpuIdle.system) /
      ((performance.now() - tIdle) / 1000);
    await stopProfile(idleProfiler, `fleet-${kind}-idle`, `[${kind}] CPU profile of the idle fleet`);
    const profiler = await startProfile();
    const cpu3 = process.cpuUsage();
    const brokerCpu3 = processCpu(broker?.pid);
    const t3 = performance.now();
    workers.forEach((w, i) =>
      w.proc.send({
        cmd: 'go',
        cpuProfile: CPU_PROF ? join(CPU_PROF, `fleet-${kind}-agents-${i}.cpuprofile`) : undefined,
      }),
    );
    // a rollout agent that never connected never acknowledges its records: bounded, not a hang
    const sent = await Promise.all(workers.map((w) => w.next('sent', STEP_TIMEOUT_MS)));
    const publishS = (performance.now() - t3) / 1000;
    let stored = 0;
    let lastChange = performance.now();
    const telemetryUntil = Date.now() + STEP_TIMEOUT_MS;
    while (Date.now() < telemetryUntil) {
      const now = (await storedCount(cp)) - base;
      if (now !== stored) lastChange = performance.now();
      stored = now;
      if (stored >= total) break;
      // Nothing new for a while after the devices finished: the rest is lost, stop waiting.
      if (performance.now() - lastChange > STALL_MS && performance.now() - t3 > publishS * 1000) break;
      await sleep(50);
    }
    // Rate up to the last stored message (not up to when we gave up waiting).
    const ingestS = (lastChange - t3) / 1000;
    const telemetryCpu = process.cpuUsage(cpu3);
    const telemetryCpuS = (telemetryCpu.user + telemetryCpu.system) / 1e6;
    const brokerCpuEnd = processCpu(broker?.pid);
    const brokerCpuS = brokerCpuEnd.user + brokerCpuEnd.system - brokerCpu3.user - brokerCpu3.system;
    const brokerSystemS = brokerCpuEnd.system - brokerCpu3.system;
    const phaseS = (performance.now() - t3) / 1000;
    await stopProfile(profiler, `fleet-${kind}`, `[${kind}] CPU profile of the telemetry phase`);
    const acked = sent.reduce((s, r) => s + r.acked, 0);
    // every record receipted by the cloud (the workers resent what no receipt named in time)
    const receipted = await Promise.all(
      workers.map((w) =>
        Promise.race([
          w.next('receipted'),
          sleep(10_000).then(() => ({
            receipts: 0,
            resent: 0,
            cpuSeconds: NaN,
            systemCpuSeconds: NaN,
            timedOut: true,
          })),
        ]),
      ),
    );
    const countEnd = await counters(cp);
    const storedDb = (await storedInDb(cp)) - baseInDb;
    await sleep(brokerSys ? 1500 : 0); // the next $SYS publication
    const brokerDropped = brokerSys ? brokerSys.dropped() - droppedBase : null;
    brokerSys?.close();
    const dups = countEnd.duplicates - countBase.duplicates;
    const received = countEnd.received - countBase.received;
    log(
      `[${kind}] telemetry: ${total} sent, ${acked} acked by the broker in ${publishS.toFixed(1)} s, ${received} received and ${stored} stored by the cloud after ${ingestS.toFixed(1)} s`,
    );
    const agentsCpuS = receipted.reduce((a, r) => a + r.cpuSeconds, 0);
    const perMsg = (cpuS: number) => ((cpuS * 1e6) / Math.max(1, stored)).toFixed(1);
    log(
      `[${kind}] CPU per stored record: control plane ${perMsg(telemetryCpuS)} µs, agents ${perMsg(agentsCpuS)} µs${broker ? `, Mosquitto ${perMsg(brokerCpuS)} µs` : ''}`,
    );
    // telemetry MQTT messages the agents sent, by the records each carried (resends included)
    const sizes: Record<string, number> = {};
    for (const r of receipted)
      for (const [k, n] of Object.entries((r.messageSizes ?? {}) as Record<string, number>))
        sizes[k] = (sizes[k] ?? 0) + n;
    const mqttSent = Object.values(sizes).reduce((a, n) => a + n, 0);
    const recordsSent = Object.entries(sizes).reduce((a, [k, n]) => a + Number(k) * n, 0);
    log(
      `[${kind}] ${mqttSent} telemetry MQTT messages for ${recordsSent} records (${(recordsSent / Math.max(1, mqttSent)).toFixed(1)} per message); ${Math.round(stored / ingestS)} records/s, ${Math.round(received / ingestS)} MQTT messages/s into the cloud`,
    );

    return {
      broker: kind,
      db: 'sqlite',
      enrolled: creds.length,
      enroll_s: round(enrollS, 1),
      connected,
      connect_s: round(connectS, 1),
      // CPU time of this process (the control plane and, embedded, the broker) per device connected
      cloud_cpu_ms_per_connect: round((connectCpuS * 1000) / Math.max(1, connected), 2),
      cloud_online: online,
      rollout: {
        devices: dep.devices.length,
        state: dep.state,
        loaded,
        seconds: round(rolloutS, 2),
        artifact_bytes: artifact.length,
      },
      telemetry: {
        messages: total,
        broker_acked: acked,
        // delivered to the control plane's MQTT client (lost − (sent − received) was lost inside the cloud)
        cloud_received: received,
        // distinct ids in the database (counted once, at the end)
        stored: storedDb,
        lost: total - storedDb,
        duplicates: dups,
        // QoS 1/2 messages the broker dropped meanwhile ($SYS/broker/publish/messages/dropped; Mosquitto only)
        broker_dropped: brokerDropped,
        // receipt commands the devices got, and records they sent again for want of one (what the broker dropped)
        receipts: receipted.reduce((a, r) => a + r.receipts, 0),
        resent: receipted.reduce((a, r) => a + r.resent, 0),
        all_receipted: receipted.every((r) => !r.timedOut),
        publish_s: round(publishS, 2),
        // devices → broker (PUBACKed), before the control plane's ingestion
        broker_msgs_per_s: Math.round(acked / publishS),
        end_to_end_s: round(ingestS, 2),
        // telemetry RECORDS stored per second end to end (the name is kept from before batches,
        // when a record was a message; records_per_s says the same)
        msgs_per_s: Math.round(stored / ingestS),
        records_per_s: Math.round(stored / ingestS),
        // telemetry MQTT messages: sent by the agents (resends included), received by the cloud,
        // per second end to end; the messages by the records each carried
        mqtt_messages_sent: mqttSent,
        mqtt_messages_per_s: Math.round(received / ingestS),
        records_per_mqtt_message: round(recordsSent / Math.max(1, mqttSent), 2),
        batch_sizes: sizes,
        // CPU time of this process per stored message: what the wall-clock rate would be bounded by
        // on a core of its own (1e6 / this), less sensitive to the machine's load than msgs_per_s
        cloud_cpu_us_per_msg: round((telemetryCpuS * 1e6) / Math.max(1, stored), 1),
        // the same without the process's idle CPU over the phase (heartbeats of the whole fleet,
        // ticker, polling; measured for IDLE_MS just before): the cost of the messages themselves
        cloud_idle_cpu_ms_per_s: round(idleCpuPerS * 1000, 1),
        cloud_cpu_us_per_msg_net: round(((telemetryCpuS - idleCpuPerS * phaseS) * 1e6) / Math.max(1, stored), 1),
        // CPU time / wall time of the process over the phase (near 1: one core saturated, the rate is CPU-bound)
        cloud_cpu_share: round(telemetryCpuS / phaseS, 2),
        // CPU time of the simulated agents' processes per stored message, from the first publish to
        // the last receipt: on one machine they compete with the broker and the cloud for the cores
        // Mosquitto's own CPU time (its process, /proc/PID/stat, 10 ms resolution) per stored message over
        // the same phase, and without its idle CPU (the fleet's heartbeats and keepalives); null for the
        // embedded broker, whose cost is in cloud_cpu_us_per_msg
        broker_cpu_us_per_msg: broker ? round((brokerCpuS * 1e6) / Math.max(1, stored), 1) : null,
        // the same per telemetry MQTT message the cloud received (what a broker's cost scales with)
        broker_cpu_us_per_mqtt_msg: broker ? round((brokerCpuS * 1e6) / Math.max(1, received), 1) : null,
        broker_cpu_us_per_msg_net: broker
          ? round(((brokerCpuS - brokerIdleCpuPerS * phaseS) * 1e6) / Math.max(1, stored), 1)
          : null,
        agents_cpu_us_per_msg: round((agentsCpuS * 1e6) / Math.max(1, stored), 1),
        // share of each process's CPU time spent in the kernel (system calls, loopback TCP): what
        // user-space changes cannot remove
        system_cpu_share: {
          cloud: round(telemetryCpu.system / 1e6 / telemetryCpuS, 2),
          agents: round(receipted.reduce((a, r) => a + (r.systemCpuSeconds ?? NaN), 0) / agentsCpuS, 2),
          broker: broker ? round(brokerSystemS / brokerCpuS, 2) : null,
        },
      },
    };
  } finally {
    for (const w of workers) {
      w.proc.send({ cmd: 'stop' });
      await Promise.race([w.next('stopped').catch(() => undefined), sleep(10_000)]);
      w.proc.kill('SIGKILL');
    }
    await cp?.close().catch(() => undefined);
    await broker?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const baseline = BASELINE
  ? (JSON.parse(readFileSync(BASELINE, 'utf8')) as {
      label?: string;
      machine?: { date?: string };
      config?: unknown;
      results: { broker: string; telemetry: Record<string, number> }[];
    })
  : undefined;
const results: Record<string, unknown>[] = [];
for (const kind of BROKERS) results.push(await runOne(kind));

const baseOf = (broker: string) => baseline?.results.find((b) => b.broker === broker)?.telemetry;
const targets = { connected: 10_000, rollout_devices: 1_000, rollout_s: 30, msgs_per_s: 20_000 };
const path = writeResult(arg('name', 'fleet'), {
  ...(LABEL ? { label: LABEL } : {}),
  config: {
    connected: CONNECTED,
    rollout: ROLLOUT,
    messages_per_device: MESSAGES,
    // the agents' own bound on telemetry records per MQTT message (1: no batches)
    batch: BATCH,
    workers: WORKERS,
    brokers: BROKERS,
    ...(BROKERS.includes('mosquitto') ? { mosquitto_config: [...MOSQUITTO_CONFIG, ...MOSQUITTO_EXTRA] } : {}),
  },
  targets,
  results,
  ...(baseline
    ? {
        baseline: {
          label: baseline.label ?? BASELINE,
          date: baseline.machine?.date,
          config: baseline.config,
          telemetry: baseline.results.map((b) => ({ broker: b.broker, ...b.telemetry })),
        },
        // end-to-end (stored) msgs/s of this run / the baseline's, per broker
        msgs_per_s_vs_baseline: Object.fromEntries(
          results.map((r: any) => {
            const b = baseOf(r.broker);
            return [r.broker, b?.msgs_per_s ? round(r.telemetry.msgs_per_s / b.msgs_per_s, 2) : null];
          }),
        ),
      }
    : {}),
  notes: [
    'simulated agents: real MQTT connections with per-device credentials, protocol v1 messages validated with zod; deploy handling downloads the artifact over HTTP and verifies sha256 + ed25519 signature, no onnxruntime',
    "control plane, broker and simulated agents share one 2-core machine: the agents' CPU competes with the broker and the cloud",
    'Mosquitto runs with allow_anonymous (no verge auth plugin), the embedded broker authenticates every device',
    'msgs_per_s (= records_per_s) = telemetry RECORDS stored / time from the first publish to the last record stored (end to end); broker_msgs_per_s = records PUBACKed by the broker / publish time; mqtt_messages_per_s = telemetry MQTT messages the cloud received / the same end-to-end time (with batches one message carries several records: batch_sizes = messages sent by records each)',
    'every *_cpu_us_per_msg is CPU time per stored RECORD; broker_cpu_us_per_mqtt_msg is per MQTT message',
    "cloud_cpu_us_per_msg / cloud_cpu_ms_per_connect: CPU time (user + system) of the bench's own process — the control plane and, for the embedded broker, aedes; not Mosquitto's nor the simulated agents' — per stored message / per connected device",
    'lost = PUBACKed by the broker to the device but never stored; messages - cloud_received of them never reached the control plane (dropped by the broker)',
    `telemetry asks for receipts (receipt: true): a simulated agent keeps each record until the cloud's receipt command names it and sends it again after ${RECEIPT_TIMEOUT_MS / 1000} s without one, as the agent's outbox does (resent = records sent again; end_to_end_s includes the wait)`,
  ],
});
printTable(
  [
    'broker',
    'connected',
    'rollout devices',
    'rollout s',
    'records',
    'into broker/s',
    'stored rec/s',
    'MQTT msg/s',
    'lost',
    ...(baseline ? ['baseline stored/s', 'baseline lost', 'ratio'] : []),
  ],
  results.map((r: any) => {
    const b = baseOf(r.broker);
    return [
      r.broker,
      r.connected,
      `${r.rollout.loaded}/${r.rollout.devices}`,
      r.rollout.seconds,
      r.telemetry.messages,
      r.telemetry.broker_msgs_per_s,
      r.telemetry.msgs_per_s,
      r.telemetry.mqtt_messages_per_s,
      r.telemetry.lost,
      ...(baseline
        ? [
            b?.msgs_per_s ?? '-',
            b?.lost ?? '-',
            b?.msgs_per_s ? `${(r.telemetry.msgs_per_s / b.msgs_per_s).toFixed(2)}x` : '-',
          ]
        : []),
    ];
  }),
);
console.log(`wrote ${path}`);
process.exit(0);
