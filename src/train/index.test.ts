/** The public surface of train/: everything callers outside the layer use comes from index.ts. */
import { describe, expect, it } from 'vitest';
import * as train from './index.ts';
import * as fitModule from './fit.ts';
import * as schedules from './schedules.ts';
import * as lower from './lower/index.ts';
import * as autodiff from './autodiff.ts';
import { TrainingSession } from './session.ts';

describe('train/index.ts', () => {
  it('exports the trainer, schedules, the session and the lowering entry points', () => {
    const same: [string, unknown, unknown][] = [
      ['fit', train.fit, fitModule.fit],
      ['evaluate', train.evaluate, fitModule.evaluate],
      ['holdOut', train.holdOut, fitModule.holdOut],
      ['sampleShapeFor', train.sampleShapeFor, fitModule.sampleShapeFor],
      ['makeSchedule', train.makeSchedule, schedules.makeSchedule],
      ['parseSchedule', train.parseSchedule, schedules.parseSchedule],
      ['describeSchedule', train.describeSchedule, schedules.describeSchedule],
      ['lowerRecurrent', train.lowerRecurrent, lower.lowerRecurrent],
      ['lowerRecurrentFor', train.lowerRecurrentFor, lower.lowerRecurrentFor],
      ['hasRecurrent', train.hasRecurrent, lower.hasRecurrent],
      ['transferParameters', train.transferParameters, lower.transferParameters],
      ['lowerForTraining', train.lowerForTraining, autodiff.lowerForTraining],
      ['buildGradientModel', train.buildGradientModel, autodiff.buildGradientModel],
      ['TrainingSession', train.TrainingSession, TrainingSession],
    ];
    for (const [name, got, want] of same) {
      expect(typeof got, name).toBe('function');
      expect(got, name).toBe(want);
    }
    // a schedule built through the index works end to end
    const s = train.makeSchedule(train.parseSchedule('step:2:0.5'), 0.1, 10);
    expect([s(0), s(2), s(4)]).toEqual([0.1, 0.05, 0.025]);
  });
});
