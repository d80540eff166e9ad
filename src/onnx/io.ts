/** Reading and writing model files: clear errors for bad paths, atomic writes. */
import { existsSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { VergeError } from '../errors.ts';
import { decodeModel, encodeModel } from './codec.ts';
import type { Model } from './ir.ts';

export function readBytes(path: string): Uint8Array {
  if (!existsSync(path)) throw new VergeError('E_FILE_NOT_FOUND', `${path} does not exist`);
  const st = statSync(path);
  if (st.isDirectory()) throw new VergeError('E_FILE_UNREADABLE', `${path} is a directory, not a file`);
  try {
    return readFileSync(path);
  } catch (e) {
    throw new VergeError('E_FILE_UNREADABLE', `${path} cannot be read (${(e as Error).message})`);
  }
}

export function loadModel(path: string): Model {
  return decodeModel(readBytes(path), basename(path));
}

/** Write bytes atomically: a temp file in the same folder, then rename. Never a half-written file. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const dir = dirname(path);
  if (!existsSync(dir)) throw new VergeError('E_FILE_NOT_FOUND', `output folder ${dir} does not exist`);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* temp file may not exist */
    }
    throw new VergeError('E_FILE_UNREADABLE', `cannot write ${path} (${(e as Error).message})`);
  }
}

export function saveModel(model: Model, path: string): number {
  const bytes = encodeModel(model);
  writeFileAtomic(path, bytes);
  return bytes.length;
}
