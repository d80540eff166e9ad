/**
 * Models the control plane runs itself: the cloud half of joint inference
 * (`POST /v1/models/<name>[@<version>]:predict`, the agent's request and response shapes) and
 * the decoders of learned uplink codecs. Loaded on first use from the registry (the fp32 variant
 * when there is one) through the agent's own serving code (edge/served-models.ts, edge/local-api.ts
 * request parsing), so an answer from the cloud is computed exactly as an agent would compute it.
 * A learned-codec frame for a model that `verge codec train --adapt-classifier` adapted to that
 * codec (`<codec>-classifier@<v>`, parent the requested model) is answered by the adapted model.
 * At most MAX_HOSTED_MODELS sessions stay open; the least recently used one is released.
 */
import semver from 'semver';
import { decodeTensor, learnedCodecModels, type CodecContext, type LearnedCodecRunner } from '../data/browser.ts';
import { requestFeeds, tensorToJson, ServedModels, loadModelBytes, type LoadedModel } from '../edge/index.ts';
import { VergeError } from '../errors.ts';
import {
  CODEC_FRAME_CONTENT_TYPE,
  decodeCodecFrame,
  type ModelVersion,
  type PredictResponse,
} from '../protocol/index.ts';
import type { TensorValue } from '../runtime/index.ts';

/** Open sessions at once: a few classifiers and codec decoders; each holds its weights in memory. */
export const MAX_HOSTED_MODELS = 8;

export interface HostedModelsHost {
  version(name: string, version: string): Promise<ModelVersion | null>;
  versions(name: string): Promise<string[]>;
  readArtifact(sha256: string): Promise<Uint8Array>;
  threads?: number;
}

export class HostedModels {
  private readonly served = new ServedModels();
  /** key name@version → loading or loaded model; Map order = recency. */
  private readonly loaded = new Map<string, Promise<LoadedModel>>();

  constructor(private readonly host: HostedModelsHost) {}

  /** `name` or `name@version` → the concrete name and version (newest when none is given). */
  async resolve(target: string): Promise<{ name: string; version: string }> {
    const at = target.indexOf('@');
    const name = at < 0 ? target : target.slice(0, at);
    if (at >= 0) return { name, version: target.slice(at + 1) };
    const versions = (await this.host.versions(name)).filter((v) => semver.valid(v)).sort(semver.rcompare);
    if (!versions.length) throw new VergeError('E_NOT_FOUND', `no model '${name}' in the registry`);
    return { name, version: versions[0]! };
  }

  /** The loaded model, loading it (and evicting the least recently used one) when needed. */
  async model(name: string, version: string): Promise<LoadedModel> {
    const key = `${name}@${version}`;
    let p = this.loaded.get(key);
    if (p) {
      this.loaded.delete(key);
      this.loaded.set(key, p);
      return p;
    }
    p = this.load(name, version);
    this.loaded.set(key, p);
    p.catch(() => this.loaded.delete(key));
    while (this.loaded.size > MAX_HOSTED_MODELS) {
      const oldest = this.loaded.keys().next().value!;
      this.loaded.delete(oldest);
      this.served.remove(oldest);
    }
    return p;
  }

  private async load(name: string, version: string): Promise<LoadedModel> {
    const mv = await this.host.version(name, version);
    if (!mv) throw new VergeError('E_NOT_FOUND', `no model ${name}@${version} in the registry`);
    const v = mv.variants.find((x) => x.precision === 'fp32') ?? mv.variants[0];
    if (!v) throw new VergeError('E_NOT_FOUND', `${name}@${version} has no variant`);
    const bytes = await this.host.readArtifact(v.sha256);
    // served under name@version, so several versions of one model can be hosted side by side
    const m = await loadModelBytes(
      { name: `${name}@${version}`, version, variant: v.variant, sha256: v.sha256 },
      bytes,
      { threads: this.host.threads ?? 1 },
    );
    this.served.swap(m);
    if (!this.loaded.has(m.name)) this.served.remove(m.name); // evicted while it loaded
    return m;
  }

  /** Run a request in the agent API's forms, or a codec frame (an offloaded, encoded input). */
  async predict(
    target: string,
    body: unknown,
    headers: Record<string, string | string[] | undefined>,
    codecs: CodecContext,
  ): Promise<PredictResponse> {
    const requested = await this.resolve(target);
    const frame = String(headers['content-type'] ?? '').startsWith(CODEC_FRAME_CONTENT_TYPE);
    if (frame && !(body instanceof Uint8Array))
      throw new VergeError('E_BAD_ARGUMENT', 'send the codec frame as the body');
    const { name, version } = (frame && (await this.adaptedFor(requested, body as Uint8Array))) || requested;
    const m = await this.model(name, version);
    let feeds: Record<string, TensorValue>;
    if (frame) {
      const raw = headers['x-verge-input'];
      const input = (Array.isArray(raw) ? raw[0] : raw) ?? m.inputs[0]?.name;
      if (!input || !m.inputs.some((i) => i.name === input))
        throw new VergeError('E_INPUT_MISSING', `model '${name}' has no input '${input}'`);
      const t = await decodeTensor(body as Uint8Array, codecs);
      feeds = { [input]: { dtype: 'float32', dims: t.dims, data: t.data } };
    } else {
      feeds = await requestFeeds(m, body, headers);
    }
    const lease = this.served.lease(`${name}@${version}`);
    try {
      const outputs = await lease.run(feeds);
      const out: PredictResponse['outputs'] = {};
      for (const [k, v] of Object.entries(outputs)) out[k] = tensorToJson(v);
      return { outputs: out, model: { name, version, variant: m.variant }, answered_by: 'cloud' };
    } finally {
      lease.release();
    }
  }

  /**
   * The classifier `verge codec train --adapt-classifier` fine-tuned for the frame's learned codec
   * (`<codec>-classifier@<codec version>`), when it adapts exactly the requested model (its
   * parent); else undefined and the requested model answers. Malformed frames are left to the
   * decoder to refuse.
   */
  private async adaptedFor(
    requested: { name: string; version: string },
    frame: Uint8Array,
  ): Promise<{ name: string; version: string } | undefined> {
    let ref: unknown;
    try {
      const f = decodeCodecFrame(frame);
      if (f.codec !== 'learned') return undefined;
      ref = f.params.ref;
    } catch {
      return undefined;
    }
    if (typeof ref !== 'string') return undefined;
    let adapted: { classifier: string; version: string };
    try {
      adapted = learnedCodecModels(ref);
    } catch {
      return undefined;
    }
    const mv = await this.host.version(adapted.classifier, adapted.version);
    return mv?.parent === `${requested.name}@${requested.version}`
      ? { name: adapted.classifier, version: adapted.version }
      : undefined;
  }

  /** Classes `name@version` predicts: its first output's last dimension (null if unknown or dynamic). */
  async classCount(name: string, version: string): Promise<number | null> {
    if (!(await this.host.version(name, version))) return null;
    const k = (await this.model(name, version)).outputs[0]?.shape?.at(-1);
    return typeof k === 'number' && k > 0 ? k : null;
  }

  /** The decoder half of learned codec `name@version` (`<name>-decoder` in the registry), or undefined. */
  async learnedDecoder(ref: string): Promise<LearnedCodecRunner | undefined> {
    const { decoder, version } = learnedCodecModels(ref);
    if (!(await this.host.version(decoder, version))) return undefined;
    const m = await this.model(decoder, version);
    const out = m.outputs[0]?.shape;
    if (!out || out.slice(1).some((d) => typeof d !== 'number')) return undefined;
    const key = `${decoder}@${version}`;
    return {
      ref,
      sampleShape: out.slice(1) as number[],
      decode: async (z) => {
        const lease = this.served.lease(key);
        try {
          const y = await lease.run({
            [lease.model.inputs[0]!.name]: { dtype: 'float32', dims: z.dims, data: z.data },
          });
          const first = Object.values(y)[0]!;
          return { dims: first.dims, data: first.data as Float32Array };
        } finally {
          lease.release();
        }
      },
    };
  }

  async close(): Promise<void> {
    this.loaded.clear();
    await this.served.close();
  }
}
