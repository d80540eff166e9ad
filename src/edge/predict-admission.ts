/**
 * Load shedding for the agent's predict API: at most `concurrency` predictions run at once, at
 * most `queue` requests wait for a slot, and a request that would wait beyond that is refused at
 * once (429 E_OVERLOADED) instead of piling up memory and latency for everyone. A slot is taken
 * before the request body is read, so refused requests cost no body buffering.
 */
import { VergeError } from '../errors.ts';

/** Releases a slot; calling it more than once is harmless. */
export type SlotRelease = () => void;

export class PredictAdmission {
  private running = 0;
  private readonly waiting: { admit: () => void }[] = [];

  constructor(
    readonly concurrency: number,
    readonly queue: number,
  ) {}

  get active(): number {
    return this.running;
  }
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * A slot within `waitMs`. Throws E_OVERLOADED (429) at once when the queue is full, E_TIMEOUT
   * (503) when no slot frees up in time.
   */
  async acquire(waitMs: number): Promise<SlotRelease> {
    if (this.running < this.concurrency) return this.grant();
    if (this.waiting.length >= this.queue)
      throw new VergeError(
        'E_OVERLOADED',
        `the agent is busy: ${this.running} predictions running and ${this.waiting.length} waiting; retry later`,
      );
    return new Promise<SlotRelease>((resolve, reject) => {
      const entry = {
        admit: () => {
          clearTimeout(timer);
          resolve(this.grant());
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new VergeError('E_TIMEOUT', `no prediction slot freed up within ${waitMs} ms`));
      }, waitMs);
      this.waiting.push(entry);
    });
  }

  private grant(): SlotRelease {
    this.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      const next = this.waiting.shift();
      if (next) next.admit();
    };
  }
}
