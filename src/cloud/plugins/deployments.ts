/** Deployments: create (all or canary), list, inspect, promote, roll back. */
import type { FastifyPluginAsync } from 'fastify';
import {
  CreateDeploymentRequest,
  Deployment,
  DeploymentsResponse,
  HTTP_ROUTES,
  RollbackRequest,
} from '../../protocol/index.ts';
import { errorResponses, idParam, js, parse } from './schemas.ts';

export interface DeploymentApi {
  /** Validates its input itself (CreateDeploymentRequest). */
  create(input: unknown): Promise<Deployment>;
  list(filter: { model?: string; active?: boolean }): Promise<Deployment[]>;
  view(id: string): Promise<Deployment>;
  promote(id: string): Promise<Deployment>;
  rollback(id: string, reason: string): Promise<Deployment>;
}

export const deploymentRoutes: FastifyPluginAsync<{ deployments: DeploymentApi }> = async (app, { deployments }) => {
  const one = { 200: js(Deployment), ...errorResponses };

  app.post(
    HTTP_ROUTES.deployments,
    {
      config: { auth: 'admin' },
      schema: { tags: ['deployments'], body: js(CreateDeploymentRequest, 'input'), response: one },
    },
    async (req) => deployments.create(req.body),
  );

  app.get(
    HTTP_ROUTES.deployments,
    {
      config: { auth: 'read' },
      schema: {
        tags: ['deployments'],
        querystring: {
          type: 'object',
          properties: { model: { type: 'string' }, active: { type: 'string', enum: ['true', 'false'] } },
        },
        response: { 200: js(DeploymentsResponse), ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query as { model?: string; active?: string };
      return { deployments: await deployments.list({ model: q.model, active: q.active === 'true' }) };
    },
  );

  app.get(
    HTTP_ROUTES.deployment,
    { config: { auth: 'read' }, schema: { tags: ['deployments'], params: idParam, response: one } },
    async (req) => deployments.view((req.params as { id: string }).id),
  );

  app.post(
    HTTP_ROUTES.promote,
    { config: { auth: 'admin' }, schema: { tags: ['deployments'], params: idParam, response: one } },
    async (req) => deployments.promote((req.params as { id: string }).id),
  );

  app.post(
    HTTP_ROUTES.rollback,
    {
      config: { auth: 'admin' },
      schema: { tags: ['deployments'], params: idParam, body: js(RollbackRequest, 'input'), response: one },
    },
    async (req) => {
      const body = parse(RollbackRequest, req.body);
      return deployments.rollback((req.params as { id: string }).id, body.reason ?? 'rolled back by operator');
    },
  );
};
