/**
 * Finding 6 (medium): a device could impersonate another in deployment targeting by enrolling with
 * `name` equal to the other's id; deployments aimed at that id then went to the impostor. Attacked
 * here through the real enrollment API and deployment targeting (embedded broker; SQLite and
 * PostgreSQL).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { HTTP_PATHS, type Deployment, type EnrollTokenResponse, type ModelVersion } from '../../src/protocol/index.ts';
import { enroll } from '../cloud/sim-device.ts';
import { DATABASES, startCloud, type Cloud } from './harness.ts';

const clouds: Cloud[] = [];
afterEach(async () => {
  for (const c of clouds.splice(0)) await c.close().catch(() => undefined);
});

for (const db of DATABASES) {
  describe.skipIf(db.skip !== null)(`device ids and names over ${db.kind}`, () => {
    it("refuses a name that has the form of a device id, and a deployment to an id reaches only that id's device", async () => {
      const cloud = await startCloud(db.kind);
      clouds.push(cloud);
      const victim = await cloud.device('victim');
      const token = async () => (await cloud.admin.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, {})).token;

      // the attack: enroll under the victim's id as name
      const impostor = await enroll(cloud.url, await token(), victim.id);
      expect(impostor.status).toBe(400);
      expect(impostor.body.error?.code).toBe('E_BAD_ARGUMENT');
      // any other id-shaped name too (a device enrolled later could get that id)
      expect((await enroll(cloud.url, await token(), 'dev-0123456789ab')).status).toBe(400);

      // a device named like the victim's id that got in before this check (written directly)
      const other = await cloud.device('other');
      await cloud.cp.repos.db.run('UPDATE devices SET name = ? WHERE id = ?', [victim.id, other.id]);

      const art = await cloud.admin.upload<{ sha256: string }>(HTTP_PATHS.artifacts, Buffer.from('model bytes'));
      await cloud.admin.post<ModelVersion>(HTTP_PATHS.models, { name: 'imp', version: '1.0.0', sha256: art.sha256 });
      const dep = await cloud.admin.post<Deployment>(HTTP_PATHS.deployments, {
        model: 'imp',
        version: '1.0.0',
        target: { devices: [victim.id] },
      });
      expect(dep.devices.map((d) => d.device_id)).toEqual([victim.id]);
      // the device API resolves the id to the victim as well
      const got = await cloud.admin.get<{ id: string }>(HTTP_PATHS.device(victim.id));
      expect(got.id).toBe(victim.id);
    });
  });
}
