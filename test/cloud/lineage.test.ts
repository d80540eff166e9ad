/**
 * Lineage given when a second variant of an existing version is published is kept (it used to be
 * dropped by `ON CONFLICT … DO NOTHING`), and a variant cannot rewrite lineage already recorded.
 * SQLite, and PostgreSQL when it runs (skipped with the reason otherwise, failing under CI).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildControlPlane, CloudClient } from '../../src/cloud/index.ts';
import { HTTP_PATHS, type ModelVersion } from '../../src/protocol/index.ts';
import { dropSchema, PG_URL, postgresAvailable, uniqueSchema } from './services.ts';

const pgSkip = await postgresAvailable();
if (pgSkip && process.env.CI === 'true') throw new Error(`PostgreSQL required under CI: ${pgSkip}`);

describe.each([
  ['SQLite', false, null],
  ['PostgreSQL', true, pgSkip],
] as const)('lineage on a later variant (%s)', (_name, pg, skip) => {
  it.skipIf(skip !== null)(`is recorded, and cannot be rewritten${skip ? ` — skipped: ${skip}` : ''}`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'verge-lineage-'));
    const schema = pg ? uniqueSchema() : undefined;
    const cp = await buildControlPlane({ dataDir, db: pg ? PG_URL : undefined, pgSchema: schema });
    try {
      const { url } = await cp.start({ port: 0 });
      const admin = new CloudClient({ url, apiKey: cp.adminKey });
      const publish = async (content: string, body: Record<string, unknown>) => {
        const a = await admin.upload<{ sha256: string }>(HTTP_PATHS.artifacts, Buffer.from(content));
        return admin.post<ModelVersion>(HTTP_PATHS.models, {
          name: 'cnn',
          version: '2.0.0',
          sha256: a.sha256,
          ...body,
        });
      };
      const first = await publish('fp32 bytes', { variant: 'fp32' });
      expect(first.parent).toBeNull();
      const second = await publish('int8 bytes', {
        variant: 'int8',
        precision: 'int8',
        parent: 'cnn@1.0.0',
        optimization: 'quantize:static-int8',
      });
      expect(second).toMatchObject({ parent: 'cnn@1.0.0', optimization: 'quantize:static-int8' });
      expect(second.variants.map((v) => v.variant).sort()).toEqual(['fp32', 'int8']);
      const listed = await admin.get<{ models: { versions: ModelVersion[] }[] }>(HTTP_PATHS.models);
      expect(listed.models[0]!.versions[0]).toMatchObject({ parent: 'cnn@1.0.0' });
      await expect(
        publish('fp16 bytes', { variant: 'fp16', precision: 'fp16', parent: 'other@1.0.0' }),
      ).rejects.toThrow(/E_CONFLICT|already has parent 'cnn@1.0.0'/);
      // variants of one version differ in optimization (the quickstart publishes int8 and fp16 of 1.0.0)
      const fp16 = await publish('fp16 bytes', { variant: 'fp16', precision: 'fp16', optimization: 'quantize:fp16' });
      expect(fp16.variants.map((v) => v.variant).sort()).toEqual(['fp16', 'fp32', 'int8']);
      expect(fp16).toMatchObject({ parent: 'cnn@1.0.0', optimization: 'quantize:static-int8' });
    } finally {
      await cp.close();
      if (schema) await dropSchema(schema);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
