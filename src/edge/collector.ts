/**
 * Applies the edge-loop collection policy of each served model to its predictions: per sample,
 * a hard-example rule (low top-1, small margin, high entropy) or the uniform sample rate decides
 * whether the input is kept in the CollectionStore. Policies arrive with the deploy message and
 * are kept in agent.db, so a restarted agent collects before it has talked to the cloud.
 */
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { CollectReason, EdgeLoopPolicy } from '../protocol/index.ts';
import type { TensorValue } from '../runtime/index.ts';
import type { CollectionStore } from './collection-store.ts';
import { hardExampleReason, outputConfidence, type PredictionConfidence } from './confidence.ts';

export interface ModelLoopPolicy {
  deployment_id: string | null;
  policy: EdgeLoopPolicy;
}

export interface CollectorCounters {
  seen: number;
  collected: Record<CollectReason, number>;
  skipped_class_cap: number;
  evicted: number;
  evicted_pending: number;
}

const POLICIES_KEY = 'edge_loop_policies';

export class Collector {
  private policies = new Map<string, ModelLoopPolicy>();
  readonly counters: CollectorCounters = {
    seen: 0,
    collected: { sample: 0, top1: 0, margin: 0, entropy: 0, offload: 0 },
    skipped_class_cap: 0,
    evicted: 0,
    evicted_pending: 0,
  };

  constructor(
    readonly store: CollectionStore,
    private readonly db: Database.Database,
    /** Uniform [0, 1) numbers for the sample rate (tests pass a seeded one). */
    private readonly random: () => number = Math.random,
  ) {
    const raw = db.prepare('SELECT value FROM kv WHERE key = ?').pluck().get(POLICIES_KEY) as string | undefined;
    if (raw) this.policies = new Map(Object.entries(JSON.parse(raw) as Record<string, ModelLoopPolicy>));
  }

  /** Replace every model's policy (the deploy message carries the complete set). */
  setPolicies(policies: Map<string, ModelLoopPolicy>): void {
    this.policies = new Map(policies);
    this.db
      .prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
      .run(POLICIES_KEY, JSON.stringify(Object.fromEntries(this.policies)));
    const quotas = [...this.policies.values()].map((p) => p.policy.collect?.quota_mb).filter((q) => q !== undefined);
    if (quotas.length) this.store.shrinkTo(Math.max(...quotas) * 2 ** 20);
  }

  policyOf(model: string): ModelLoopPolicy | undefined {
    return this.policies.get(model);
  }

  models(): string[] {
    return [...this.policies.keys()];
  }

  /**
   * Look at one answered request. `input` is the tensor fed to the model ([batch, ...sample]),
   * `output` its first output ([batch, classes]). Returns the confidences (for offload decisions)
   * and how many samples were kept.
   */
  observe(
    model: { name: string; version: string },
    inputName: string,
    input: TensorValue,
    output: TensorValue,
    opts: { offloaded?: boolean[]; cloudPredicted?: (number | null)[] } = {},
  ): { confidences: PredictionConfidence[]; stored: number } {
    const confidences = outputConfidence(output.dims, output.data as ArrayLike<number>);
    const collect = this.policies.get(model.name)?.policy.collect;
    if (!collect || !(input.data instanceof Float32Array) || confidences.length === 0)
      return { confidences, stored: 0 };
    const batch = confidences.length;
    const per = input.data.length / batch;
    if (!Number.isInteger(per) || (input.dims[0] !== batch && batch !== 1)) return { confidences, stored: 0 };
    const sampleDims = input.dims[0] === batch ? input.dims.slice(1) : input.dims;
    let stored = 0;
    const now = Date.now();
    for (let b = 0; b < batch; b++) {
      this.counters.seen++;
      const c = confidences[b]!;
      let reason: CollectReason | null = hardExampleReason(c, collect.hard);
      if (!reason && opts.offloaded?.[b]) reason = 'offload';
      if (!reason && collect.sample_rate > 0 && this.random() < collect.sample_rate) reason = 'sample';
      if (!reason) continue;
      const r = this.store.add(
        {
          id: randomUUID().replace(/-/g, ''),
          model,
          deployment_id: this.policies.get(model.name)?.deployment_id ?? null,
          input: inputName,
          dims: sampleDims,
          data: input.data.slice(b * per, (b + 1) * per),
          created_at: now,
          reason,
          predicted: c.predicted,
          top1: c.top1,
          margin: c.margin,
          entropy: c.entropy,
          cloud_predicted: opts.cloudPredicted?.[b] ?? null,
        },
        collect.quota_mb * 2 ** 20,
        collect.per_class_cap,
      );
      this.counters.evicted += r.evicted;
      this.counters.evicted_pending += r.evictedPending;
      if (r.stored) {
        stored++;
        this.counters.collected[reason]++;
      } else if (r.skipped === 'class-cap') this.counters.skipped_class_cap++;
    }
    return { confidences, stored };
  }
}
