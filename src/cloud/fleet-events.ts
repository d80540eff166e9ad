/**
 * Change notifications for live views (the dashboard's GET /v1/events stream): the repositories'
 * writes announce a topic once they are stored, and subscribers get at most one event per topic
 * per FLEET_EVENT_COALESCE_MS, so a burst (a fleet's heartbeats, a rollout's acks) is one event.
 * Events carry no data: a client re-reads what changed through the API, with its own key's rights.
 * Each replica announces its own writes; with several replicas behind a load balancer a stream
 * sees the changes its replica stored (the dashboard also re-reads on a slow timer).
 */
import type { FleetEvent, FleetTopic } from '../protocol/index.ts';
import type { Repositories } from './repositories/index.ts';

/** One event per topic per this period at most: a live view refreshes about once a second. */
export const FLEET_EVENT_COALESCE_MS = 500;

export type FleetListener = (e: FleetEvent) => void;

export class FleetEvents {
  private readonly listeners = new Set<FleetListener>();
  private readonly pending = new Set<FleetTopic>();
  private timer: NodeJS.Timeout | null = null;

  /** Something under `topic` was stored; listeners hear of it within FLEET_EVENT_COALESCE_MS. */
  announce(topic: FleetTopic): void {
    if (this.listeners.size === 0) return;
    this.pending.add(topic);
    if (!this.timer) {
      this.timer = setTimeout(() => this.deliver(), FLEET_EVENT_COALESCE_MS);
      this.timer.unref();
    }
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: FleetListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending.clear();
    this.listeners.clear();
  }

  private deliver(): void {
    this.timer = null;
    const at = Date.now();
    const topics = [...this.pending];
    this.pending.clear();
    for (const topic of topics)
      for (const l of this.listeners) {
        try {
          l({ topic, at });
        } catch {
          // one broken stream must not keep the others from hearing
        }
      }
  }
}

type AsyncMethods<T> = { [K in keyof T]: T[K] extends (...a: never[]) => Promise<unknown> ? K : never }[keyof T];
/** Write methods that announce; a predicate decides from the arguments (e.g. an empty batch is no change). */
type Writes<T> = Partial<Record<AsyncMethods<T>, true | ((...args: never[]) => boolean)>>;

/** The repository with its listed write methods announcing `topic` after they resolve; reads pass through. */
export function announcing<T extends object>(repo: T, writes: Writes<T>, announce: () => void): T {
  const wrapped = Object.create(repo) as T;
  for (const [name, when] of Object.entries(writes) as [string, true | ((...a: unknown[]) => boolean)][]) {
    const method = (repo as Record<string, (...a: unknown[]) => Promise<unknown>>)[name]!;
    (wrapped as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      const result = await method.apply(repo, args);
      if (when === true || when(...args)) announce();
      return result;
    };
  }
  return wrapped;
}

/** The repositories whose writes a live view shows, announcing on `events`. */
export function announceWrites(repos: Repositories, events: FleetEvents): Repositories {
  return {
    ...repos,
    devices: announcing(
      repos.devices,
      {
        enroll: true,
        revoke: true,
        recordPresence: true,
        recordServedModel: true,
        recordHeartbeats: (beats: unknown[]) => beats.length > 0,
      },
      () => events.announce('devices'),
    ),
    deployments: announcing(
      repos.deployments,
      { insert: true, transition: true, markGatePassed: true, setDeviceState: true, release: true },
      () => events.announce('deployments'),
    ),
    models: announcing(repos.models, { upsertVersion: true, insertVariant: true }, () => events.announce('models')),
    telemetry: announcing(repos.telemetry, { insert: true }, () => events.announce('telemetry')),
    fl: announcing(
      repos.fl,
      { insertJob: true, updateJob: true, openRound: true, transitionRound: true, deliver: true, markMissing: true },
      () => events.announce('fl'),
    ),
  };
}
