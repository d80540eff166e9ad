/**
 * Issue 17: nothing mutable is exported. The library's exported tables and defaults are frozen, so
 * one caller cannot change what verge computes for every other caller in the process.
 */
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/cloud/db/migrations.ts';
import { DEFAULT_VAD } from '../../src/data/audio/features.ts';
import { KALDI_MFCC_DEFAULTS } from '../../src/data/audio/mfcc.ts';
import { SPEECH_DIGITS_DEFAULTS } from '../../src/data/audio/speech-digits-synthesis.ts';
import { PROFILE_PRESETS } from '../../src/edge/profile-presets.ts';
import { DEFAULT_CLIENT_OPTIMIZER } from '../../src/fl/client.ts';
import { FEDOPT_DEFAULTS } from '../../src/fl/strategy/fedopt.ts';
import { ARCHITECTURES, SPEECH_ARCHITECTURES, TOKEN_ARCHITECTURES } from '../../src/nn/architectures.ts';
import { VERBS } from '../../src/protocol/topics.ts';

const tables: Record<string, object> = {
  ARCHITECTURES,
  SPEECH_ARCHITECTURES,
  TOKEN_ARCHITECTURES,
  PROFILE_PRESETS,
  VERBS,
  MIGRATIONS,
  DEFAULT_CLIENT_OPTIMIZER,
  FEDOPT_DEFAULTS,
  DEFAULT_VAD,
  KALDI_MFCC_DEFAULTS,
  SPEECH_DIGITS_DEFAULTS,
};

/** Every object and array reachable from value (functions are code, not data). */
function* tree(value: unknown, path: string): Generator<[string, object]> {
  if (value === null || typeof value !== 'object') return;
  yield [path, value];
  for (const [k, v] of Object.entries(value)) yield* tree(v, `${path}.${k}`);
}

describe('exported tables and defaults', () => {
  it.each(Object.keys(tables))('%s is frozen all the way down', (name) => {
    const unfrozen = [...tree(tables[name], name)].filter(([, v]) => !Object.isFrozen(v)).map(([p]) => p);
    expect(unfrozen).toEqual([]);
  });

  it('a change is refused, not applied for everyone', () => {
    expect(() => {
      (KALDI_MFCC_DEFAULTS as { numCeps: number }).numCeps = 40;
    }).toThrow(TypeError);
    expect(KALDI_MFCC_DEFAULTS.numCeps).toBe(13);
    expect(() => (TOKEN_ARCHITECTURES as string[]).push('cnn')).toThrow(TypeError);
    expect(() => {
      (VERBS.deploy as { qos: number }).qos = 0;
    }).toThrow(TypeError);
  });
});
