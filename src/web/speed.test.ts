import { describe, expect, it } from 'vitest';
import { measureSpeed } from './speed.ts';

describe('measureSpeed', () => {
  it('awaits onTimed before and after the timed steps and reports the fastest step', async () => {
    const count = 128;
    const x = new Float32Array(count * 28 * 28).map((_, i) => (i % 97) / 97);
    const y = Int32Array.from({ length: count }, (_, i) => i % 10);
    const events: string[] = [];
    const r = await measureSpeed(
      { x, y, count },
      {
        batch: 32,
        steps: 3,
        warmupSteps: 1,
        inferenceRuns: 2,
        threads: 1,
        onTimed: async (phase) => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          events.push(phase);
        },
      },
    );
    expect(events).toEqual(['start', 'end']);
    expect(r.train_step_ms_min).toBeGreaterThan(0);
    expect(r.train_step_ms_min).toBeLessThanOrEqual(r.train_step_ms_p50);
    expect(Number.isFinite(r.final_loss)).toBe(true);
  }, 120_000);
});
