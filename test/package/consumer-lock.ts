/**
 * A package-lock.json for a fresh project that depends on verge's packed tarball, derived from the
 * repository's lock: the same resolved versions and integrities of verge's production dependencies,
 * so `npm ci --offline` installs them from npm's cache (filled by the repository's own `npm ci`)
 * without asking the registry anything.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dev?: boolean;
  link?: boolean;
  dependencies?: Record<string, string>;
  [key: string]: unknown;
}

interface Lock {
  name: string;
  version: string;
  lockfileVersion: number;
  requires: boolean;
  packages: Record<string, LockEntry>;
}

export function consumerLock(repoLockPath: string, tarballPath: string, tarballName: string): Lock {
  const repo = JSON.parse(readFileSync(repoLockPath, 'utf8')) as Lock;
  const root = repo.packages[''];
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarballPath)).digest('base64')}`;
  const packages: Record<string, LockEntry> = {
    '': { name: 'consumer', dependencies: { [repo.name]: `file:${tarballName}` } },
    [`node_modules/${repo.name}`]: {
      version: repo.version,
      resolved: `file:${tarballName}`,
      integrity,
      license: root.license,
      dependencies: root.dependencies,
      bin: root.bin,
      engines: root.engines,
    },
  };
  for (const [path, entry] of Object.entries(repo.packages)) {
    if (path === '' || entry.dev === true || entry.link === true) continue;
    packages[path] = entry;
  }
  return { name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}
