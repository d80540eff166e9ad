/**
 * Fuzzing the WAV reader (src/data/audio/wav.ts, behind the wav-folder source, `verge run` and the
 * agent's audio requests) with edits of the real recordings and format samples in
 * test/fixtures/audio: audio or E_DATA_INVALID, in bounded time, never more samples than the
 * file's bytes hold.
 */
import fc from 'fast-check';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeWav, wavInfo } from '../../src/data/audio/wav.ts';
import { decodesOrRefuses, fuzzParams, mutate, mutations } from './fuzz.ts';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'audio');
const files = [
  ...readdirSync(join(DIR, 'formats')).map((n) => join('formats', n)),
  ...readdirSync(DIR).filter((n) => n.endsWith('.wav')),
]
  .filter((n) => n.endsWith('.wav'))
  .map((name) => ({ name, bytes: readFileSync(join(DIR, name)) }));

describe('fuzz: WAV reader', () => {
  it('edited real WAV files: audio within the file, or E_DATA_INVALID', () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
    fc.assert(
      fc.property(fc.constantFrom(...files), mutations(), (f, edits) => {
        // the RIFF, fmt and data headers are the first 44-80 bytes
        const bytes = mutate(f.bytes, edits, 96);
        const audio = decodesOrRefuses(() => decodeWav(bytes, f.name), ['E_DATA_INVALID']);
        if (audio) {
          const info = wavInfo(bytes, f.name);
          expect(audio.channels).toHaveLength(info.channels);
          // every sample was read from at least one byte of the data chunk
          expect(audio.channels[0]!.length * info.channels).toBeLessThanOrEqual(bytes.length);
        }
      }),
      fuzzParams(500),
    );
  });

  it('random chunks behind a RIFF/WAVE header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (tail) => {
        const bytes = new Uint8Array(12 + tail.length);
        bytes.set(new TextEncoder().encode('RIFF\0\0\0\0WAVE'));
        bytes.set(tail, 12);
        decodesOrRefuses(() => decodeWav(bytes), ['E_DATA_INVALID']);
      }),
      fuzzParams(500),
    );
  });
});
