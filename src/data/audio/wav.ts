/**
 * WAV (RIFF/WAVE) decoding and encoding on bytes: PCM 8/16/24/32-bit, IEEE float 32/64-bit, and
 * WAVE_FORMAT_EXTENSIBLE wrapping either; any channel count. Browser-safe (no Node imports): the
 * file-system reading lives in wav-file.ts.
 */
import { VergeError, fmtInt } from '../../errors.ts';
import { resample } from './resample.ts';

export interface Audio {
  sampleRate: number;
  /** One Float32Array per channel, samples scaled to [-1, 1) (PCM) or as stored (float). */
  channels: Float32Array[];
}

export interface WavInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  format: 'pcm' | 'float';
  frames: number;
}

/** Longest audio accepted: 10 minutes at 48 kHz stereo float is ~220 MB; longer input is refused. */
export const MAX_WAV_SECONDS = 600;
/** Sample rates outside this range are not audio verge can featurize. */
export const MIN_SAMPLE_RATE = 1000;
export const MAX_SAMPLE_RATE = 384_000;
export const MAX_CHANNELS = 32;

/** Data-chunk sizes that mean "unknown, until the end of the stream". */
const STREAMING_SIZES = new Set([0, 0xffffffff, 0x7ffff000, 0x7fffffff]);

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_EXTENSIBLE = 0xfffe;

function bad(source: string, why: string): VergeError {
  return new VergeError('E_DATA_INVALID', `${source} is not a readable WAV file: ${why}`);
}

function fourcc(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);
}

interface Chunks {
  fmt?: { offset: number; size: number };
  data?: { offset: number; size: number };
}

function findChunks(bytes: Uint8Array, view: DataView, source: string): Chunks {
  const chunks: Chunks = {};
  let at = 12;
  while (at + 8 <= bytes.length) {
    const id = fourcc(bytes, at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ') chunks.fmt = { offset: body, size };
    if (id === 'data') {
      // Writers to pipes leave a placeholder size (sox, espeak-ng: 0x7FFFF000); any other size past
      // the end is a truncated file.
      if (body + size > bytes.length) {
        if (STREAMING_SIZES.has(size)) chunks.data = { offset: body, size: bytes.length - body };
        else
          throw bad(
            source,
            `truncated: the data chunk declares ${fmtInt(size)} bytes but only ${fmtInt(bytes.length - body)} follow`,
          );
      } else chunks.data = { offset: body, size };
      if (chunks.fmt) break;
    }
    at = body + size + (size & 1);
  }
  return chunks;
}

/** Parse the header: format, rate, channels, and where the samples are. Throws E_DATA_INVALID. */
export function wavInfo(bytes: Uint8Array, source = 'input'): WavInfo & { dataOffset: number; dataBytes: number } {
  if (bytes.length === 0) throw bad(source, 'it is empty (0 bytes)');
  if (bytes.length < 12) throw bad(source, `it has only ${bytes.length} bytes, less than a RIFF header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (fourcc(bytes, 0) !== 'RIFF' || fourcc(bytes, 8) !== 'WAVE') {
    const head = fourcc(bytes, 0) === 'RIFX' ? 'big-endian RIFX is not supported' : 'no RIFF/WAVE header';
    throw bad(source, head);
  }
  const { fmt, data } = findChunks(bytes, view, source);
  if (!fmt || fmt.size < 16 || fmt.offset + 16 > bytes.length) throw bad(source, 'no complete "fmt " chunk');
  if (!data) throw bad(source, 'no "data" chunk (truncated?)');
  let tag = view.getUint16(fmt.offset, true);
  const channels = view.getUint16(fmt.offset + 2, true);
  const sampleRate = view.getUint32(fmt.offset + 4, true);
  const bitsPerSample = view.getUint16(fmt.offset + 14, true);
  if (tag === FORMAT_EXTENSIBLE) {
    if (fmt.size < 40 || fmt.offset + 26 > bytes.length) throw bad(source, 'WAVE_FORMAT_EXTENSIBLE header too short');
    tag = view.getUint16(fmt.offset + 24, true); // first two bytes of the sub-format GUID
  }
  const format = tag === FORMAT_PCM ? 'pcm' : tag === FORMAT_FLOAT ? 'float' : undefined;
  if (!format) throw bad(source, `encoding ${tag} is not supported (PCM or IEEE float only)`);
  const okBits = format === 'pcm' ? [8, 16, 24, 32] : [32, 64];
  if (!okBits.includes(bitsPerSample))
    throw bad(source, `${bitsPerSample}-bit ${format} samples are not supported (${okBits.join('/')}-bit)`);
  if (channels < 1 || channels > MAX_CHANNELS) throw bad(source, `${channels} channels (1..${MAX_CHANNELS} supported)`);
  if (sampleRate < MIN_SAMPLE_RATE || sampleRate > MAX_SAMPLE_RATE)
    throw bad(source, `sample rate ${sampleRate} Hz is outside ${MIN_SAMPLE_RATE}..${MAX_SAMPLE_RATE} Hz`);
  const frameBytes = (bitsPerSample / 8) * channels;
  const frames = Math.floor(data.size / frameBytes);
  if (frames === 0) throw bad(source, 'it holds no samples (zero-length data chunk)');
  if (frames > MAX_WAV_SECONDS * sampleRate)
    throw bad(source, `${(frames / sampleRate).toFixed(0)} s of audio is longer than the ${MAX_WAV_SECONDS} s limit`);
  return { sampleRate, channels, bitsPerSample, format, frames, dataOffset: data.offset, dataBytes: data.size };
}

/** Decode a WAV file's bytes into per-channel float samples. */
export function decodeWav(bytes: Uint8Array, source = 'input'): Audio {
  const info = wavInfo(bytes, source);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { channels: nc, frames, bitsPerSample: bits, format } = info;
  const step = bits / 8;
  const out = Array.from({ length: nc }, () => new Float32Array(frames));
  let at = info.dataOffset;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < nc; c++, at += step) {
      let v: number;
      if (format === 'float') v = bits === 32 ? view.getFloat32(at, true) : view.getFloat64(at, true);
      else if (bits === 8) v = (view.getUint8(at) - 128) / 128;
      else if (bits === 16) v = view.getInt16(at, true) / 32768;
      else if (bits === 24) v = ((view.getUint8(at + 2) << 24) | (view.getUint16(at, true) << 8)) / 2147483648;
      else v = view.getInt32(at, true) / 2147483648;
      out[c]![i] = v;
    }
  }
  return { sampleRate: info.sampleRate, channels: out };
}

/** Average the channels into one (a copy for mono input). */
export function toMono(audio: Audio): Float32Array {
  const [first, ...rest] = audio.channels;
  const mono = Float32Array.from(first!);
  if (rest.length === 0) return mono;
  for (const ch of rest) for (let i = 0; i < mono.length; i++) mono[i]! += ch[i]!;
  const k = 1 / audio.channels.length;
  for (let i = 0; i < mono.length; i++) mono[i]! *= k;
  return mono;
}

/** Audio as one mono channel at `sampleRate` (channels averaged, resampled when needed). */
export function waveformAt(audio: Audio, sampleRate: number): Float32Array {
  const mono = toMono(audio);
  return audio.sampleRate === sampleRate ? mono : resample(mono, audio.sampleRate, sampleRate);
}

export interface EncodeWavOptions {
  /** 'pcm16' (default), 'pcm8', 'pcm24', 'pcm32', 'float32', 'float64'. */
  encoding?: 'pcm8' | 'pcm16' | 'pcm24' | 'pcm32' | 'float32' | 'float64';
}

/** Encode float samples ([-1, 1]; PCM clips) as a canonical 44-byte-header WAV file. */
export function encodeWav(audio: Audio, opts: EncodeWavOptions = {}): Uint8Array {
  const enc = opts.encoding ?? 'pcm16';
  const float = enc.startsWith('float');
  const bits = Number(enc.replace(/\D/g, ''));
  const nc = audio.channels.length;
  const frames = audio.channels[0]?.length ?? 0;
  const step = bits / 8;
  const dataBytes = frames * nc * step;
  const bytes = new Uint8Array(44 + dataBytes);
  const view = new DataView(bytes.buffer);
  const put = (at: number, s: string): void => {
    for (let i = 0; i < 4; i++) bytes[at + i] = s.charCodeAt(i);
  };
  put(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, float ? FORMAT_FLOAT : FORMAT_PCM, true);
  view.setUint16(22, nc, true);
  view.setUint32(24, audio.sampleRate, true);
  view.setUint32(28, audio.sampleRate * nc * step, true);
  view.setUint16(32, nc * step, true);
  view.setUint16(34, bits, true);
  put(36, 'data');
  view.setUint32(40, dataBytes, true);
  let at = 44;
  const clip = (v: number, scale: number): number => Math.max(-scale, Math.min(scale - 1, Math.round(v * scale)));
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < nc; c++, at += step) {
      const v = audio.channels[c]![i]!;
      if (enc === 'float32') view.setFloat32(at, v, true);
      else if (enc === 'float64') view.setFloat64(at, v, true);
      else if (enc === 'pcm8') view.setUint8(at, clip(v, 128) + 128);
      else if (enc === 'pcm16') view.setInt16(at, clip(v, 32768), true);
      else if (enc === 'pcm24') {
        const s = clip(v, 8388608);
        view.setUint8(at, s & 0xff);
        view.setUint16(at + 1, (s >> 8) & 0xffff, true);
      } else view.setInt32(at, clip(v, 2147483648), true);
    }
  }
  return bytes;
}
