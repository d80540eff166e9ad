/**
 * The agent's FL platform (FlPlatform of fl-participant.ts): the rounds done and the ed25519
 * upload key live in the agent's data dir, models are downloaded with resume into
 * `<dataDir>/fl-models` and checked against their sha256 (artifact-download.ts).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { downloadArtifact } from './artifact-download.ts';
import type { FlPlatform } from './fl-participant.ts';

const KEY_FILE = 'fl-key.pem';
const STATE_FILE = 'fl-rounds.json';

export function nodeFlPlatform(dataDir: string, cloudFetch?: typeof fetch): FlPlatform {
  const state = join(dataDir, STATE_FILE);
  return {
    loadRounds: () => (existsSync(state) ? (JSON.parse(readFileSync(state, 'utf8')) as Record<string, number>) : {}),
    saveRounds: (done) => writeFileSync(state, JSON.stringify(done)),
    uploadKey() {
      const p = join(dataDir, KEY_FILE);
      if (!existsSync(p)) {
        const { privateKey } = generateKeyPairSync('ed25519');
        writeFileSync(p, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
      }
      const key = createPrivateKey(readFileSync(p, 'utf8'));
      return {
        publicKeyPem: createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(),
        sign: (payload) => sign(null, payload, key).toString('base64'),
      };
    },
    async download(req) {
      const dir = join(dataDir, 'fl-models');
      mkdirSync(dir, { recursive: true });
      const res = await downloadArtifact(cloudFetch ? { ...req, fetch: cloudFetch } : req, dir);
      return new Uint8Array(readFileSync(res.path));
    },
  };
}
