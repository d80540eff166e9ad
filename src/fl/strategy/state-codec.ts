/**
 * Bytes of a strategy's server state (FedAvgM's velocity, FedOpt's moments), so a coordinator can
 * keep it as an artifact between rounds and a restarted control plane resumes exactly: a u32
 * header length, a JSON header [{name, length}], then the float32 values in that order.
 */
import { VergeError } from '../../errors.ts';
import type { StrategyState } from './strategy.ts';

export function encodeStrategyState(state: StrategyState): Uint8Array {
  const entries = Object.entries(state);
  const header = new TextEncoder().encode(JSON.stringify(entries.map(([name, v]) => ({ name, length: v.length }))));
  const total = entries.reduce((a, [, v]) => a + v.length, 0);
  const out = new Uint8Array(4 + header.length + 4 * total);
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 4);
  let off = 4 + header.length;
  for (const [, v] of entries) {
    out.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), off);
    off += v.byteLength;
  }
  return out;
}

export function decodeStrategyState(bytes: Uint8Array): StrategyState {
  const fail = (why: string): never => {
    throw new VergeError('E_DATA_INVALID', `strategy state: ${why}`);
  };
  if (bytes.length < 4) fail('truncated');
  const hl = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (4 + hl > bytes.length) fail('header runs past the end');
  let entries: { name: string; length: number }[] = [];
  try {
    entries = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + hl))) as typeof entries;
  } catch {
    fail('header is not JSON');
  }
  const out: StrategyState = {};
  let off = 4 + hl;
  for (const e of entries) {
    if (off + 4 * e.length > bytes.length) fail(`'${e.name}' runs past the end`);
    out[e.name] = new Float32Array(bytes.slice(off, off + 4 * e.length).buffer);
    off += 4 * e.length;
  }
  return out;
}
