import { describe, expect, it } from 'vitest';
import { describeSchedule, makeSchedule, parseSchedule } from './schedules.ts';

describe('learning-rate schedules', () => {
  it('constant', () => {
    const s = makeSchedule({ kind: 'constant' }, 0.1, 100);
    expect([0, 50, 99].map(s)).toEqual([0.1, 0.1, 0.1]);
  });

  it('step: multiply by gamma every N steps', () => {
    const s = makeSchedule({ kind: 'step', every: 10, gamma: 0.5 }, 1, 100);
    expect([0, 9, 10, 19, 20, 35].map(s)).toEqual([1, 1, 0.5, 0.5, 0.25, 0.125]);
  });

  it('cosine: from the base rate to min_lr over the run', () => {
    const s = makeSchedule({ kind: 'cosine', minLr: 0.1 }, 1.1, 100);
    expect(s(0)).toBeCloseTo(1.1, 12);
    expect(s(50)).toBeCloseTo(0.6, 12); // half way: the mean of base and min
    expect(s(100)).toBeCloseTo(0.1, 12);
    for (let i = 1; i <= 100; i++) expect(s(i)).toBeLessThan(s(i - 1));
  });

  it('linear warm-up, then the schedule starts from its beginning', () => {
    const s = makeSchedule({ kind: 'cosine', warmup: 4 }, 0.8, 104);
    expect([0, 1, 2, 3].map(s)).toEqual([0.2, 0.4, 0.6000000000000001, 0.8]);
    expect(s(4)).toBeCloseTo(0.8, 12);
    expect(s(104)).toBeCloseTo(0, 12);
  });

  it('parses CLI text and rejects bad text with one clear message', () => {
    expect(parseSchedule('constant')).toEqual({ kind: 'constant' });
    expect(parseSchedule('step:100:0.5')).toEqual({ kind: 'step', every: 100, gamma: 0.5 });
    expect(parseSchedule('cosine+warmup:20')).toEqual({ kind: 'cosine', warmup: 20 });
    expect(parseSchedule('cosine:0.0001')).toEqual({ kind: 'cosine', minLr: 0.0001 });
    expect(describeSchedule(parseSchedule('step:5+warmup:2'))).toBe('step:5:0.1+warmup:2');
    expect(() => parseSchedule('linear')).toThrow(/unknown schedule 'linear'/);
    expect(() => parseSchedule('step:x')).toThrow(/not a number/);
    expect(() => parseSchedule('step:0')).toThrow(/positive integer/);
    expect(() => parseSchedule('cosine+cooldown:3')).toThrow(/unknown modifier/);
  });
});
