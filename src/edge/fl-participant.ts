/**
 * The agent's side of federated learning: it receives `fl` tasks (retained MQTT messages), and for
 * each (job, round) once: downloads the round's global model (content-addressed, sha256 and the
 * cloud's signature checked like a deployment), evaluates it on the local hold-out, trains with the
 * same ClientTrainer the simulator uses, and uploads the compressed update over HTTP with the
 * device credential and an ed25519 signature (protocol/fl.ts). Raw data never leaves the device.
 *
 * Local data comes from `localData()` — the agent's `--data`, the items it collected through the
 * edge data loop (`--fl-collected`), or both (fl-local-data.ts); read once per job.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { Dataset, Split } from '../data/browser.ts';
import { isVergeError, VergeError } from '../errors.ts';
import {
  ClientTrainer,
  parseCompression,
  UpdateCompressor,
  layoutDigest,
  weightsOf,
  secureRandom,
} from '../fl/index.ts';
import { decodeModel } from '../onnx/browser.ts';
import {
  FL_HEADERS,
  FL_PATHS,
  flEvaluationBody,
  flUploadSignaturePayload,
  type ArtifactRef,
  type FlTaskMessage,
} from '../protocol/browser.ts';
import { holdOut, type GradientReplicas } from '../train/browser.ts';
import { SecureParties } from './fl-secure-party.ts';
import { deviceAuthHeader, joinUrl } from './enrollment.ts';

/** Share of local samples held out for evaluation when the data has no test split. */
export const LOCAL_HOLDOUT = 0.1;
/** Upload attempts on network errors before giving the round up (the deadline bounds them too). */
const UPLOAD_ATTEMPTS = 4;

/**
 * What a participant needs from where it runs: the agent's files and node:crypto
 * (fl-node-platform.ts), or a browser tab's IndexedDB and WebCrypto keys (src/web/app/device-store.ts).
 */
export interface FlPlatform {
  /** The highest round done per job, as last saved (a restarted participant does not redo a round). */
  loadRounds(): Record<string, number>;
  saveRounds(done: Record<string, number>): void;
  /** The participant's ed25519 upload key, made on first use and kept. */
  uploadKey(): FlUploadKey;
  /** Fetch an artifact, refusing it unless its size and sha256 match; its bytes. */
  download(req: {
    url: string;
    sha256: string;
    bytes: number;
    headers: Record<string, string>;
    signal: AbortSignal;
  }): Promise<Uint8Array>;
}

export interface FlUploadKey {
  /** SPKI PEM of the public key (registered with PUT /v1/fl/device-key). */
  publicKeyPem: string;
  /** base64 ed25519 signature of `payload` (a tab's WebCrypto key signs asynchronously). */
  sign(payload: Uint8Array): string | Promise<string>;
}

/** The device this participant speaks for (an agent's identity has more). */
export interface FlIdentity {
  device_id: string;
  password: string;
  cloud_url: string;
}

export interface FlParticipantHost {
  identity: FlIdentity;
  platform: FlPlatform;
  localData: () => Promise<Dataset>;
  /** The agent's check of an artifact signature (undefined = valid; fetches the key set when the key is new). */
  checkSignature(ref: Pick<ArtifactRef, 'sha256' | 'signature' | 'key_id'>): Promise<string | undefined>;
  log(line: string): void;
  threads?: number;
  /** Data-parallel replicas for local training (a browser tab's web workers); default one session. */
  replicas?: GradientReplicas;
  /** HTTP to the cloud (cloud-channel.ts: the agent's CA and client certificate); default: global fetch. */
  fetch?: typeof fetch;
}

export type FlOutcome = {
  job: string;
  round: number;
  task: string;
  /** Secure rounds: the phase answered (advertise, share, mask, unmask). */
  phase?: string;
  result: 'uploaded' | 'skipped' | 'failed';
  reason?: string;
};

interface JobContext {
  trainer: ClientTrainer;
  layout: string;
  compressor: UpdateCompressor;
  compress: string;
}

export class FlParticipant {
  private readonly queue: FlTaskMessage[] = [];
  private running?: Promise<void>;
  private readonly jobs = new Map<string, JobContext>();
  private readonly secure = new SecureParties();
  private data?: { dataset: Dataset; holdout: Split };
  private key?: FlUploadKey;
  private keyRegistered = false;
  private done: Record<string, number>;
  private stopped = false;
  private readonly abort = new AbortController();
  readonly outcomes: FlOutcome[] = [];
  onOutcome?: (o: FlOutcome) => void;

  constructor(private readonly host: FlParticipantHost) {
    this.done = host.platform.loadRounds();
  }

  /** Take a task from the broker; work happens in order, one task at a time. */
  onTask(task: FlTaskMessage): void {
    if (this.stopped) return;
    if (task.task === 'cancel') {
      void this.releaseJob(task.job_id);
      return;
    }
    this.queue.push(task);
    this.running ??= this.drain().finally(() => (this.running = undefined));
  }

  private async drain(): Promise<void> {
    while (this.queue.length && !this.stopped) {
      const t = this.queue.shift()!;
      const outcome = await this.run(t).catch((e: unknown): FlOutcome => ({
        job: t.job_id,
        round: t.round,
        task: t.task,
        result: 'failed',
        reason: (e as Error).message,
      }));
      if (outcome.result !== 'skipped' || outcome.reason !== 'already done') {
        this.host.log(
          `FL ${outcome.job} round ${outcome.round} (${outcome.task}): ${outcome.result}${outcome.reason ? ` — ${outcome.reason}` : ''}`,
        );
      }
      this.outcomes.push(outcome);
      this.onOutcome?.(outcome);
    }
  }

  private markDone(job: string, round: number): void {
    this.done[job] = Math.max(this.done[job] ?? 0, round);
    this.host.platform.saveRounds(this.done);
  }

  private async run(t: FlTaskMessage): Promise<FlOutcome> {
    const base = { job: t.job_id, round: t.round, task: t.task, ...(t.secagg ? { phase: t.secagg.phase } : {}) };
    if ((this.done[t.job_id] ?? 0) >= t.round) return { ...base, result: 'skipped', reason: 'already done' };
    if (Date.now() > t.deadline) return { ...base, result: 'skipped', reason: 'deadline passed' };
    if (!t.model || !t.token || !t.upload_path)
      throw new VergeError('E_PROTOCOL', 'task lacks model, token or upload path');
    if (t.secagg && this.secure.answered(t.job_id, t.round, t.secagg.phase))
      return { ...base, result: 'skipped', reason: 'already done' };
    if (t.secagg && t.secagg.phase !== 'advertise') return this.securePhase(t, base);
    const model = await this.fetchModel(t.model);
    const ctx = await this.context(t, model);
    const { dataset, holdout } = await this.localData();
    const global = weightsOf(model, ctx.trainer.layout);
    const ev = await ctx.trainer.evaluate(global, dataset, holdout);
    if (t.task === 'evaluate') {
      const body = flEvaluationBody({ examples: ev.examples, loss: ev.loss, accuracy: ev.accuracy });
      const signature = await this.sign(t, new TextEncoder().encode(body), ev.examples, body);
      await this.upload(t, JSON.stringify({ ...JSON.parse(body), token: t.token, signature }), {
        'content-type': 'application/json',
      });
    } else {
      const r = await ctx.trainer.fit(global, { ...dataset, test: holdout }, t.config, t.round);
      const metrics = JSON.stringify({
        loss: r.metrics.loss,
        accuracy: r.metrics.accuracy,
        train_seconds: r.metrics.train_seconds,
        eval_loss: ev.loss,
        eval_accuracy: ev.accuracy,
        eval_examples: ev.examples,
      });
      if (t.secagg) {
        // secure round: the update stays here; only public keys go out now, the masked input later
        const body = this.secure.advertise(t.job_id, t.round, t.secagg, r.update, r.examples, metrics);
        await this.postSigned(t, t.secagg.path, body, r.examples, metrics);
        return { ...base, result: 'uploaded' };
      }
      const bytes = ctx.compressor.compress(r.update);
      const signature = await this.sign(t, bytes, r.examples, metrics);
      await this.upload(t, bytes, {
        'content-type': 'application/octet-stream',
        [FL_HEADERS.token]: t.token,
        [FL_HEADERS.examples]: String(r.examples),
        [FL_HEADERS.metrics]: metrics,
        [FL_HEADERS.signature]: signature,
      });
    }
    this.markDone(t.job_id, t.round);
    return { ...base, result: 'uploaded' };
  }

  /** A later phase of a secure round: answer it from the state the advertise phase kept. */
  private async securePhase(t: FlTaskMessage, base: Omit<FlOutcome, 'result'>): Promise<FlOutcome> {
    const s = t.secagg!;
    if (!this.secure.has(t.job_id, t.round))
      return { ...base, result: 'skipped', reason: 'not a party of this secure round (restarted?)' };
    const a = await this.secure.answer(t.job_id, t.round, s);
    await this.postSigned(t, s.path, a.body, a.examples, a.metrics);
    if (s.phase === 'unmask') {
      this.secure.forget(t.job_id, t.round);
      this.markDone(t.job_id, t.round);
    }
    return { ...base, result: 'uploaded' };
  }

  /** POST a signed secure-aggregation message (signed like an update: token, body sha256, examples, metrics). */
  private async postSigned(
    t: FlTaskMessage,
    path: string,
    body: Uint8Array,
    examples: number,
    metrics: string,
  ): Promise<void> {
    // every phase's body travels as raw bytes (JSON or the masked uint32 vector): the route reads it with a limit
    const signature = await this.sign(t, body, examples, metrics);
    await this.upload({ ...t, upload_path: path }, body, {
      'content-type': 'application/octet-stream',
      [FL_HEADERS.token]: t.token!,
      [FL_HEADERS.examples]: String(examples),
      [FL_HEADERS.metrics]: metrics,
      [FL_HEADERS.signature]: signature,
    });
  }

  /** `p`, or a rejection as soon as the participant stops (a hung data source must not block stop()). */
  private abortable<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(new VergeError('E_NETWORK', 'stopped'));
      if (this.abort.signal.aborted) return onAbort();
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
      p.then(resolve, reject).finally(() => this.abort.signal.removeEventListener('abort', onAbort));
    });
  }

  private async localData(): Promise<{ dataset: Dataset; holdout: Split }> {
    if (!this.data) {
      const dataset = await this.abortable(this.host.localData());
      if (dataset.test.count > 0) this.data = { dataset, holdout: dataset.test };
      else {
        const { train, validation } = holdOut(dataset.train, LOCAL_HOLDOUT, 0);
        this.data = { dataset: { ...dataset, train }, holdout: validation };
      }
    }
    return this.data;
  }

  private async context(t: FlTaskMessage, model: ReturnType<typeof decodeModel>): Promise<JobContext> {
    let ctx = this.jobs.get(t.job_id);
    if (!ctx) {
      this.data = undefined; // read the local data again for a new job (collected items grow)
      const trainer = await ClientTrainer.create(model, {
        ...(this.host.threads ? { threads: this.host.threads } : {}),
        ...(this.host.replicas ? { replicas: this.host.replicas } : {}),
      });
      ctx = {
        trainer,
        layout: layoutDigest(trainer.layout),
        compress: t.compress,
        compressor: new UpdateCompressor(parseCompression(t.compress), secureRandom()),
      };
      this.jobs.set(t.job_id, ctx);
    }
    if (t.layout && t.layout !== ctx.layout)
      throw new VergeError('E_SHAPE_MISMATCH', `the round's model does not have this job's weight layout`);
    return ctx;
  }

  private async fetchModel(ref: NonNullable<FlTaskMessage['model']>) {
    const bad = await this.host.checkSignature(ref);
    if (bad) throw new VergeError('E_SIGNATURE', bad);
    const url = /^https?:\/\//.test(ref.url)
      ? ref.url
      : joinUrl(this.host.identity.cloud_url, ref.url.replace(/^\//, ''));
    const bytes = await this.host.platform.download({
      url,
      sha256: ref.sha256,
      bytes: ref.size,
      headers: this.auth(),
      signal: this.abort.signal,
    });
    return decodeModel(bytes, `FL model ${ref.sha256.slice(0, 12)}`);
  }

  private signingKey(): FlUploadKey {
    return (this.key ??= this.host.platform.uploadKey());
  }

  private async sign(t: FlTaskMessage, body: Uint8Array, examples: number, metricsJson: string): Promise<string> {
    const payload = flUploadSignaturePayload({
      job: t.job_id,
      round: t.round,
      device: this.host.identity.device_id,
      token: t.token!,
      bodySha256: bytesToHex(sha256(body)),
      examples,
      metricsJson,
    });
    return this.signingKey().sign(payload);
  }

  private auth(): Record<string, string> {
    return { authorization: deviceAuthHeader(this.host.identity.device_id, this.host.identity.password) };
  }

  private async registerKey(): Promise<void> {
    if (this.keyRegistered) return;
    const pem = this.signingKey().publicKeyPem;
    const res = await (this.host.fetch ?? fetch)(
      joinUrl(this.host.identity.cloud_url, FL_PATHS.deviceKey.replace(/^\//, '')),
      {
        method: 'PUT',
        headers: { ...this.auth(), 'content-type': 'application/json' },
        body: JSON.stringify({ public_key_pem: pem }),
        signal: this.abort.signal,
      },
    );
    if (!res.ok)
      throw new VergeError('E_AUTH', `FL key registration refused: ${res.status} ${(await res.text()).slice(0, 200)}`);
    this.keyRegistered = true;
  }

  /** Upload; a 409 (duplicate or late) is final for the round, so it counts as done. */
  private async upload(t: FlTaskMessage, body: Uint8Array | string, headers: Record<string, string>): Promise<void> {
    try {
      await this.post(t, body, headers);
    } catch (e) {
      if (isVergeError(e) && e.code === 'E_CONFLICT') this.markDone(t.job_id, t.round);
      throw e;
    }
  }

  /** POST an upload; 4xx answers are final (duplicate, late, refused), network errors are retried. */
  private async post(t: FlTaskMessage, body: Uint8Array | string, headers: Record<string, string>): Promise<void> {
    await this.registerKey();
    const url = joinUrl(this.host.identity.cloud_url, t.upload_path!.replace(/^\//, ''));
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await (this.host.fetch ?? fetch)(url, {
          method: 'POST',
          headers: { ...this.auth(), ...headers },
          // the DOM's BodyInit wants ArrayBuffer-backed bytes, which these are (never a SharedArrayBuffer)
          body: body as string | Uint8Array<ArrayBuffer>,
          signal: this.abort.signal,
        });
      } catch (e) {
        if (attempt >= UPLOAD_ATTEMPTS || Date.now() > t.deadline || this.stopped)
          throw new VergeError('E_NETWORK', `upload failed: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
        continue;
      }
      if (res.ok) return;
      const text = (await res.text()).slice(0, 300);
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
      } catch {
        /* not JSON */
      }
      throw new VergeError(
        res.status === 409 ? 'E_CONFLICT' : 'E_PROTOCOL',
        `upload refused (${res.status}): ${message}`,
      );
    }
  }

  private async releaseJob(job: string): Promise<void> {
    this.secure.forget(job);
    const ctx = this.jobs.get(job);
    this.jobs.delete(job);
    await ctx?.trainer.release().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.running?.catch(() => undefined);
    for (const job of [...this.jobs.keys()]) await this.releaseJob(job);
  }
}
