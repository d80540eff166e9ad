/** Enrollment: operators mint tokens; devices enroll with one and read their connection settings. */
import type { FastifyPluginAsync } from 'fastify';
import {
  CreateEnrollTokenRequest,
  DeviceConfigResponse,
  DeviceEncryptionKey,
  EnrollRequest,
  EnrollResponse,
  EnrollTokenResponse,
  HTTP_ROUTES,
} from '../../protocol/index.ts';
import { ENROLL_BODY_LIMIT } from '../http-app.ts';
import { requestDeviceId } from '../http-auth.ts';
import { errorResponses, js, parse } from './schemas.ts';

export interface EnrollmentApi {
  createToken(req: CreateEnrollTokenRequest): Promise<EnrollTokenResponse>;
  enroll(req: EnrollRequest): Promise<EnrollResponse>;
  deviceConfig(deviceId: string): Promise<DeviceConfigResponse>;
  registerEncryptionKey(deviceId: string, publicKey: string): Promise<DeviceEncryptionKey>;
}

export const enrollmentRoutes: FastifyPluginAsync<{ enrollment: EnrollmentApi }> = async (app, { enrollment }) => {
  app.post(
    HTTP_ROUTES.enroll,
    {
      bodyLimit: ENROLL_BODY_LIMIT,
      schema: {
        tags: ['agent'],
        body: js(EnrollRequest, 'input'),
        response: { 200: js(EnrollResponse), ...errorResponses },
      },
    },
    async (req) => enrollment.enroll(parse(EnrollRequest, req.body)),
  );

  app.get(
    HTTP_ROUTES.deviceConfig,
    {
      config: { auth: 'device' },
      schema: { tags: ['agent'], response: { 200: js(DeviceConfigResponse), ...errorResponses } },
    },
    async (req) => enrollment.deviceConfig(requestDeviceId(req)),
  );

  app.put(
    HTTP_ROUTES.deviceEncryptionKey,
    {
      config: { auth: 'device' },
      schema: {
        tags: ['agent'],
        body: js(DeviceEncryptionKey, 'input'),
        response: { 200: js(DeviceEncryptionKey), ...errorResponses },
      },
    },
    async (req) =>
      enrollment.registerEncryptionKey(requestDeviceId(req), parse(DeviceEncryptionKey, req.body).public_key),
  );

  app.post(
    HTTP_ROUTES.enrollTokens,
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['devices'],
        body: js(CreateEnrollTokenRequest, 'input'),
        response: { 200: js(EnrollTokenResponse), ...errorResponses },
      },
    },
    async (req) => enrollment.createToken(parse(CreateEnrollTokenRequest, req.body)),
  );
};
