/**
 * `verge deploy … --collect/--offload-to` through the real CLI against a real control plane: the
 * flags become the deployment's edge-loop policy and reach the agent; bad rules end with one line
 * and create no deployment.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EdgeAgent } from '../../src/edge/agent.ts';
import {
  EDGE_LOOP_PATHS,
  HTTP_PATHS,
  type DeploymentsResponse,
  type EdgeLoopPolicy,
} from '../../src/protocol/index.ts';
import { secretFile, verge } from '../cli/cli.ts';
import { tinyModelBytes } from '../edge/models.ts';
import { startAgent, TestCloud, waitUntil } from './harness.ts';

describe('verge deploy with edge-loop flags', () => {
  let cloud: TestCloud;
  let agent: EdgeAgent;
  beforeAll(async () => {
    cloud = await TestCloud.start();
    agent = await startAgent(cloud, 'cam-flags');
    await cloud.publish('clf', '1.0.0', tinyModelBytes(1));
  }, 60_000);
  afterAll(async () => {
    await agent?.stop().catch(() => undefined);
    await cloud?.close();
  });

  it('--collect and --offload-to set the policy, which reaches the agent', async () => {
    const auth = ['--cloud', cloud.url, '--api-key-file', secretFile(cloud.cp.adminKey)];
    const bad = await verge(['deploy', 'clf@1.0.0', '--devices', 'cam-flags', '--collect', 'hard:0.6,nope:1', ...auth]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/E_BAD_ARGUMENT: --collect rule 'nope:1'/);
    const rate = await verge(['deploy', 'clf@1.0.0', '--devices', 'cam-flags', '--collect', 'rate:2', ...auth]);
    expect(rate.stderr).toMatch(/sample_rate/);
    expect((await cloud.admin.get<DeploymentsResponse>(HTTP_PATHS.deployments)).deployments).toHaveLength(0);

    const r = await verge([
      'deploy',
      'clf@1.0.0',
      '--devices',
      'cam-flags',
      '--collect',
      'hard:0.6,entropy:1.5,rate:0.1,cap:5',
      '--collect-quota-mb',
      '8',
      '--codecs',
      'quantize-delta:6,lossless',
      '--offload-to',
      'big@2.0.0',
      '--offload-below',
      '0.55',
      '--offload-margin-below',
      '0.3',
      '--wait',
      '--json',
      ...auth,
    ]);
    expect(r.code).toBe(0);
    const dep = JSON.parse(r.stdout) as { id: string };
    const policy = await cloud.admin.get<EdgeLoopPolicy>(EDGE_LOOP_PATHS.policy(dep.id));
    expect(policy).toEqual({
      policy_version: 1,
      collect: {
        sample_rate: 0.1,
        hard: { top1_below: 0.6, entropy_above: 1.5 },
        per_class_cap: 5,
        quota_mb: 8,
        upload: true,
        codecs: ['quantize-delta:6', 'lossless'],
      },
      offload: { model: 'big@2.0.0', below: 0.55, margin_below: 0.3, deadline_ms: 500, codec: 'lossless' },
    });
    await waitUntil(() => agent.loop.collector.policyOf('clf')?.policy.offload?.below === 0.55, 10_000, 'the policy');
  }, 120_000);
});
