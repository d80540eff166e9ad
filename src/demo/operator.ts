/** The quickstart's operator: the control plane's HTTP API, as `verge` commands use it. */
import { CloudClient, measurePublishedMemory, waitForDeployment } from '../cloud/index.ts';
import { VergeError } from '../errors.ts';
import {
  FAILED_DEPLOYMENT_STATES,
  HTTP_PATHS,
  type Deployment,
  type EnrollTokenResponse,
  type ModelVersion,
} from '../protocol/index.ts';
import type { Variant } from './model.ts';

/** Tag every quickstart device enrolls with; the deployment targets it. */
export const QUICKSTART_TAGS = Object.freeze({ site: 'quickstart' });
/** How long the quickstart waits for any rollout step before giving up. */
export const STEP_TIMEOUT_MS = 60_000;
/** Poll period while waiting for a rollout step: the quickstart's steps take a second or less. */
const POLL_MS = 100;

export class QuickstartOperator {
  readonly client: CloudClient;
  constructor(
    url: string,
    apiKey: string,
    private readonly warn: (message: string) => void = () => undefined,
  ) {
    this.client = new CloudClient({ url, apiKey });
  }

  async token(): Promise<string> {
    return (await this.client.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, { tags: QUICKSTART_TAGS })).token;
  }

  async publish(
    name: string,
    version: string,
    v: Variant,
    meta: { parent: string | null; optimization: string | null; metrics: Record<string, number> },
  ): Promise<ModelVersion> {
    const a = await this.client.upload<{ sha256: string }>(HTTP_PATHS.artifacts, v.bytes);
    // as `verge model publish` does: the agents check the measured loaded memory against their budget
    const loaded = await measurePublishedMemory(v.bytes, this.warn);
    return this.client.post<ModelVersion>(HTTP_PATHS.models, {
      name,
      version,
      variant: v.variant,
      precision: v.precision,
      profile: v.profile,
      sha256: a.sha256,
      ...(loaded ? { loaded_memory: loaded } : {}),
      ...meta,
    });
  }

  /** Wait until `done` holds; a deployment that fails or rolls back first is an error naming each device's state. */
  async waitFor(id: string, done: (d: Deployment) => boolean, timeoutMs: number): Promise<Deployment> {
    const d = await waitForDeployment(this.client, id, { timeoutMs, until: done, pollMs: POLL_MS });
    if (done(d)) return d;
    const devices = d.devices.map((x) => `${x.name}=${x.state}${x.error ? ` ${x.error.code}` : ''}`).join(', ');
    const failed = (FAILED_DEPLOYMENT_STATES as readonly string[]).includes(d.state);
    throw new VergeError(
      failed ? 'E_CONFLICT' : 'E_NETWORK',
      `deployment ${id} ${d.state}${d.reason ? `: ${d.reason}` : ''} (${devices})`,
    );
  }
}
