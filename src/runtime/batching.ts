/**
 * Run a model over more samples than one call should take: split the inputs along dim 0 into
 * batches, run each, and concatenate the outputs along dim 0. Input batches are views of the
 * caller's buffers (no copy); outputs are copied once into the concatenated result.
 */
import { VergeError } from '../errors.ts';
import { allocate, type TensorData } from '../onnx/browser.ts';
import type { Session } from './session.ts';
import type { TensorValue } from './tensor.ts';

function isTensorValue(x: unknown): x is TensorValue {
  return typeof x === 'object' && x !== null && 'dtype' in x && 'dims' in x && 'data' in x;
}

/** Storage entries per dim-0 row; rejects packed 4-bit rows that do not start on a byte. */
function rowLength(v: TensorValue, what: string): number {
  const rows = v.dims[0]!;
  const perRow = rows === 0 ? 0 : v.data.length / rows;
  if (!Number.isInteger(perRow)) {
    throw new VergeError(
      'E_UNSUPPORTED',
      `${what}: ${v.dtype} rows of [${v.dims.join(', ')}] do not start on byte boundaries`,
    );
  }
  return perRow;
}

function sliceRows(v: TensorValue, start: number, end: number, perRow: number): TensorValue {
  const dims = [end - start, ...v.dims.slice(1)];
  const data = Array.isArray(v.data)
    ? v.data.slice(start * perRow, end * perRow)
    : (v.data as Float32Array).subarray(start * perRow, end * perRow);
  return { dtype: v.dtype, dims, data: data as TensorData };
}

function concatRows(parts: TensorValue[], name: string): TensorValue {
  const first = parts[0]!;
  if (parts.length === 1) return first;
  const rows = parts.reduce((s, p) => s + p.dims[0]!, 0);
  const dims = [rows, ...first.dims.slice(1)];
  if (first.dtype === 'string') {
    return { dtype: 'string', dims, data: parts.flatMap((p) => p.data as Uint8Array[]) };
  }
  const total = parts.reduce((s, p) => s + p.data.length, 0);
  const out = allocate(first.dtype, 0).constructor as new (n: number) => Float32Array;
  const data = new out(total);
  let offset = 0;
  for (const p of parts) {
    if (p.dims.length !== dims.length || p.dims.slice(1).some((d, i) => d !== first.dims[i + 1])) {
      throw new VergeError(
        'E_SHAPE_MISMATCH',
        `output '${name}' changes shape between batches ([${first.dims}] vs [${p.dims}])`,
      );
    }
    data.set(p.data as Float32Array, offset);
    offset += p.data.length;
  }
  return { dtype: first.dtype, dims, data: data as TensorData };
}

/**
 * Run `session` over `input` (a tensor for a single-input model, or feeds by name) in batches of
 * `batchSize` rows along dim 0, and return every output concatenated along dim 0. Every input must
 * have the same dim 0, and every output must be batched along dim 0.
 */
export async function runBatched(
  session: Session,
  input: TensorValue | Record<string, TensorValue>,
  batchSize: number,
  fetches?: readonly string[],
): Promise<Record<string, TensorValue>> {
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new VergeError('E_BAD_ARGUMENT', `batch size must be a positive integer, got ${batchSize}`);
  }
  let feeds: Record<string, TensorValue>;
  if (isTensorValue(input)) {
    if (session.inputs.length !== 1) {
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `${session.source} has ${session.inputs.length} inputs (${session.inputNames.join(', ')}); pass feeds by name`,
      );
    }
    feeds = { [session.inputs[0]!.name]: input };
  } else feeds = input;

  const names = Object.keys(feeds);
  if (names.length === 0) throw new VergeError('E_INPUT_MISSING', `${session.source}: no inputs given`);
  let rows = -1;
  const perRow: Record<string, number> = {};
  for (const name of names) {
    const v = feeds[name]!;
    if (v.dims.length === 0)
      throw new VergeError('E_SHAPE_MISMATCH', `input '${name}' is a scalar; it has no dim 0 to batch along`);
    if (rows >= 0 && v.dims[0] !== rows) {
      throw new VergeError('E_SHAPE_MISMATCH', `inputs disagree on dim 0 (${rows} vs ${v.dims[0]} for '${name}')`);
    }
    rows = v.dims[0]!;
    perRow[name] = rowLength(v, `input '${name}'`);
  }
  for (const spec of session.inputs) {
    const d0 = spec.shape?.[0];
    if (typeof d0 === 'number' && d0 !== batchSize && rows > d0) {
      throw new VergeError('E_BAD_ARGUMENT', `input '${spec.name}' has a fixed batch of ${d0}; use batch size ${d0}`);
    }
  }

  const parts: Record<string, TensorValue[]> = {};
  for (let start = 0; start < rows || (rows === 0 && start === 0); start += batchSize) {
    const end = Math.min(rows, start + batchSize);
    const chunk: Record<string, TensorValue> = {};
    for (const name of names) chunk[name] = sliceRows(feeds[name]!, start, end, perRow[name]!);
    const out = await session.run(chunk, fetches);
    for (const [name, v] of Object.entries(out)) {
      if (v.dims[0] !== end - start) {
        throw new VergeError(
          'E_UNSUPPORTED',
          `output '${name}' has dims [${v.dims.join(', ')}]: not batched along dim 0, so batches cannot be concatenated`,
        );
      }
      (parts[name] ??= []).push(v);
    }
    if (rows === 0) break;
  }
  const result: Record<string, TensorValue> = {};
  for (const [name, p] of Object.entries(parts)) result[name] = concatRows(p, name);
  return result;
}
