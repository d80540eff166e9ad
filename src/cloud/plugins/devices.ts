/** The device registry as operators see it: list, inspect, revoke. */
import type { FastifyPluginAsync } from 'fastify';
import { Device, DevicesResponse, HTTP_ROUTES } from '../../protocol/index.ts';
import { errorResponses, idParam, js } from './schemas.ts';

export interface DeviceApi {
  list(): Promise<Device[]>;
  get(idOrName: string): Promise<Device>;
  revoke(idOrName: string): Promise<Device>;
}

export const deviceRoutes: FastifyPluginAsync<{ devices: DeviceApi }> = async (app, { devices }) => {
  app.get(
    HTTP_ROUTES.devices,
    {
      config: { auth: 'read' },
      schema: { tags: ['devices'], response: { 200: js(DevicesResponse), ...errorResponses } },
    },
    async () => ({ devices: await devices.list() }),
  );

  app.get(
    HTTP_ROUTES.device,
    {
      config: { auth: 'read' },
      schema: { tags: ['devices'], params: idParam, response: { 200: js(Device), ...errorResponses } },
    },
    async (req) => devices.get((req.params as { id: string }).id),
  );

  app.post(
    HTTP_ROUTES.revokeDevice,
    {
      config: { auth: 'admin' },
      schema: { tags: ['devices'], params: idParam, response: { 200: js(Device), ...errorResponses } },
    },
    async (req) => devices.revoke((req.params as { id: string }).id),
  );
};
