/**
 * Finding 3 (part): model names in the cloud's Prometheus metrics were unbounded — one device
 * reporting 5,000 model names made 10,000 series, and every scrape (and Prometheus) pays for each.
 * Attacked here on the real components: an enrolled device publishes telemetry over the embedded
 * broker for 1,000 distinct (model, version) pairs; GET /metrics must stay within MAX_MODEL_SERIES
 * pairs per family, with the rest summed under `_other` (no inference lost from the totals).
 */
import { afterAll, expect, it } from 'vitest';
import { MAX_MODEL_SERIES, OTHER_LABEL } from '../../src/cloud/metrics.ts';
import { encodeMessage, HTTP_PATHS } from '../../src/protocol/index.ts';
import { waitFor } from '../cloud/sim-device.ts';
import { startCloud, telemetryRecord, type Cloud } from './harness.ts';

const PAIRS = 1000;
let cloud: Cloud | undefined;
afterAll(async () => {
  await cloud?.close();
});

/** The label sets and the summed value of one counter family in Prometheus text. */
function family(text: string, name: string): { series: string[]; total: number } {
  const lines = text.split('\n').filter((l) => l.startsWith(`${name}{`));
  return {
    series: lines.map((l) => l.slice(name.length, l.lastIndexOf(' '))),
    total: lines.reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0),
  };
}

it('a device reporting 1,000 model names adds at most MAX_MODEL_SERIES series per family', async () => {
  cloud = await startCloud('sqlite');
  const d = await cloud.device('label-flood');
  await Promise.all(
    Array.from({ length: PAIRS }, (_, i) =>
      d.publish(
        'telemetry',
        {} as never,
        encodeMessage(
          'telemetry',
          telemetryRecord(d, i, { model: { name: `m-${i}`, version: '1.0.0', variant: 'fp32' }, inferences: 3 }),
        ),
      ),
    ),
  );
  await waitFor(async () => (await cloud!.cp.repos.telemetry.totals()).messages >= PAIRS || null, 'stored', 60_000);
  await cloud.cp.flush();

  const text = await (await fetch(`${cloud.url}${HTTP_PATHS.metrics}`)).text();
  const inferences = family(text, 'verge_inferences_total');
  expect(inferences.series.length).toBeLessThanOrEqual(MAX_MODEL_SERIES + 1);
  expect(inferences.series.some((s) => s.includes(`model="${OTHER_LABEL}"`))).toBe(true);
  expect(inferences.total).toBe(3 * PAIRS); // summed, not dropped
  expect(family(text, 'verge_inference_errors_total').series.length).toBeLessThanOrEqual(MAX_MODEL_SERIES + 1);
}, 120_000);
