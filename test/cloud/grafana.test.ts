/** deploy/grafana/verge-fleet.json queries only metrics the control plane exports, and is valid dashboard JSON. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildControlPlane } from '../../src/cloud/control-plane.ts';
import { HTTP_PATHS } from '../../src/protocol/index.ts';

const DASHBOARD = join(import.meta.dirname, '..', '..', 'deploy', 'grafana', 'verge-fleet.json');

describe('Grafana dashboard for the control plane metrics', () => {
  it('queries metrics that GET /metrics exports', async () => {
    const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      uid: string;
      panels: { id: number; targets: { expr: string }[] }[];
    };
    expect(d.uid).toBe('verge-fleet');
    expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
    const used = new Set(d.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/verge_[a-z_]+/g) ?? [])));
    expect(used.size).toBeGreaterThan(5);
    const dir = mkdtempSync(join(tmpdir(), 'verge-grafana-'));
    const cp = await buildControlPlane({ dataDir: dir, webDir: null });
    try {
      const res = await cp.app.inject({
        method: 'GET',
        url: HTTP_PATHS.metrics,
        headers: { authorization: `Bearer ${cp.adminKey}` },
      });
      expect(res.statusCode).toBe(200);
      const exported = new Set([...res.body.matchAll(/^# HELP (verge_[a-z_]+)/gm)].map((m) => m[1]));
      expect([...used].filter((m) => !exported.has(m))).toEqual([]);
    } finally {
      await cp.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
