import { describe, expect, it } from 'vitest';
import { selectSamples, type Split } from './dataset.ts';

/** 6 samples of 2 features, each with a 3-value regression target that encodes its sample index. */
function regressionSplit(): Split {
  const count = 6;
  const x = new Float32Array(count * 2);
  const targets = new Float32Array(count * 3);
  for (let i = 0; i < count; i++) {
    x.set([i, -i], i * 2);
    targets.set([i * 10, i * 10 + 1, i * 10 + 2], i * 3);
  }
  return { x, y: new Int32Array(count), targets, count };
}

describe('selectSamples', () => {
  it('keeps the regression targets of the selected samples, in selection order', () => {
    const s = selectSamples(regressionSplit(), [4, 1]);
    expect(s.count).toBe(2);
    expect(Array.from(s.x)).toEqual([4, -4, 1, -1]);
    expect(s.targets && Array.from(s.targets)).toEqual([40, 41, 42, 10, 11, 12]);
  });

  it('an empty selection of a regression split still has (empty) targets', () => {
    const s = selectSamples(regressionSplit(), []);
    expect(s.count).toBe(0);
    expect(s.targets?.length).toBe(0);
  });

  it('classification splits stay without targets', () => {
    const { targets: _dropped, ...cls } = regressionSplit();
    expect(selectSamples(cls, [0, 2]).targets).toBeUndefined();
  });
});
