/** `verge demo quickstart` (`npm start`): run the quickstart, print its summary, stay up unless --once. */
import { MODEL_NAME, runQuickstart, type QuickstartFleet, type QuickstartSummary } from '../../demo/index.ts';
import { emit, note, stderrReporter, table } from '../output.ts';

interface QuickstartCliOptions {
  once?: boolean;
  json?: boolean;
  dataDir?: string;
  port?: number;
  trainSteps: number;
  model?: string;
  samples: number;
  flRounds: number;
}

function humanSummary(s: QuickstartSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const pctOrNa = (x: number | null) => (x === null ? 'n/a' : pct(x));
  const fl = s.federated;
  const served = fl ? `${fl.published.name}@${fl.published.version}` : `${s.model.name}@${s.model.version}`;
  const variants = fl?.variants ?? s.model.variants;
  const rollout = (d: QuickstartSummary['deployment']) =>
    `${d.strategy} (canary ${d.canary.join(', ')}) → gate passed → promoted → ${d.state} in ${d.seconds} s`;
  const held = fl ? fl.holdout_accuracy.filter((a): a is number => a !== null) : [];
  return [
    '',
    `verge quickstart: ${served} on ${s.devices.length} devices (${s.elapsed_s} s)`,
    `  model:  ${s.model.name}@${s.model.version} ${s.model.source_note}`,
    `  rollout: ${rollout(s.deployment)}`,
    ...(fl
      ? [
          `  federated: job ${fl.job}, ${fl.rounds} ${fl.strategy} rounds over ${fl.devices.map((d) => d.samples).join('/')} device images (${fl.partition}) in ${fl.job_seconds} s, ${fl.uplink_bytes} update bytes up`,
          `           device hold-out accuracy ${held.map(pct).join(' → ')}; local test accuracy ${pct(fl.test_accuracy_local_before)} → ${pct(fl.test_accuracy_local)}`,
          `           class ${fl.new_class.index}${fl.new_class.name ? ` '${fl.new_class.name}'` : ''} (only on the devices, ${fl.new_class.device_samples} images): ${pctOrNa(fl.new_class.test_accuracy_before)} → ${pctOrNa(fl.new_class.test_accuracy)} of its test images`,
          `           published ${served} (parent ${fl.published.parent}); rollout ${rollout(fl.deployment)}`,
        ]
      : []),
    `  data:   ${s.data.test_samples} test images from ${s.data.source}; local accuracy before deployment ${pct(fl?.test_accuracy_local ?? s.model.test_accuracy_local)}`,
    '',
    table(
      ['device', 'profile', 'version', 'variant', 'bytes', 'accuracy', 'p50 ms', 'p99 ms'],
      s.devices.map((d) => [
        d.name,
        d.profile,
        d.version,
        d.variant,
        variants.find((v) => v.variant === d.variant)?.bytes ?? '',
        pct(d.accuracy),
        d.p50_ms.toFixed(2),
        d.p99_ms.toFixed(2),
      ]),
    ),
    '',
    '  latency = one image per HTTP request, measured by the client (JSON encode + HTTP + inference)',
  ].join('\n');
}

/** Where everything is, then wait for Ctrl-C. */
async function serve(fleet: QuickstartFleet): Promise<void> {
  const s = fleet.summary;
  note('');
  note('the fleet stays up (Ctrl-C to stop):');
  note(`  control plane API  ${s.cloud.url}   (OpenAPI: ${s.cloud.url}/openapi.json)`);
  note(
    `  operator commands  VERGE_CLOUD=${s.cloud.url} VERGE_API_KEY=$(cat ${fleet.controlPlane.adminKeyPath}) npx verge devices`,
  );
  for (const d of s.devices) note(`  ${d.name.padEnd(10)} ${d.url}/v1/models/${MODEL_NAME}:predict   (${d.variant})`);
  note(`  try: curl -s ${s.devices[0]!.url}/v1/models`);
  await new Promise<void>((done) => {
    const stop = (sig: string) => {
      note(`${sig}: stopping the quickstart fleet`);
      fleet.stop().finally(done);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

export default async function quickstart(opts: QuickstartCliOptions): Promise<void> {
  const fleet = await runQuickstart(
    {
      dataDir: opts.dataDir,
      port: opts.port,
      trainSteps: opts.trainSteps,
      samples: opts.samples,
      modelFile: opts.model,
      flRounds: opts.flRounds,
    },
    stderrReporter,
  );
  try {
    emit(opts, fleet.summary, () => humanSummary(fleet.summary));
  } catch (e) {
    await fleet.stop();
    throw e;
  }
  if (opts.once) return fleet.stop();
  await serve(fleet);
}
