/** Requests through an agent's local HTTP API, and the local reference accuracy they are compared with. */
import type { Dataset } from '../data/browser.ts';
import type { EdgeAgent } from '../edge/index.ts';
import { VergeError } from '../errors.ts';
import type { Model } from '../onnx/browser.ts';
import { Session } from '../runtime/index.ts';
import { countTop1, top1Accuracy } from '../train/index.ts';
import { quantile, type DemoReporter } from './reporter.ts';

/** One Fashion-MNIST image per request. */
const IMAGE_DIMS = [1, 1, 28, 28];
const IMAGE_SIZE = 28 * 28;

/** A model's accuracy on the first `n` test images, overall and per class (null: no image of the class). */
export interface LocalAccuracy {
  accuracy: number;
  perClass: (number | null)[];
}

/** Accuracy of a model on the first `n` test images, run locally (the number the agents should match). */
export async function localAccuracy(model: Model, data: Dataset, n: number): Promise<LocalAccuracy> {
  const s = await Session.create(model, { threads: 2 });
  try {
    const x = Float32Array.from(data.test.x.subarray(0, n * IMAGE_SIZE));
    const out = await s.run({ [s.inputNames[0]!]: { dtype: 'float32', dims: [n, 1, 28, 28], data: x } });
    const logits = Object.values(out)[0]!.data as Float32Array;
    const classes = logits.length / n;
    const seen = new Array<number>(classes).fill(0);
    const right = new Array<number>(classes).fill(0);
    for (let i = 0; i < n; i++) {
      const y = data.test.y[i]!;
      seen[y]!++;
      right[y]! += countTop1(logits.subarray(i * classes, (i + 1) * classes), data.test.y, 1, i);
    }
    return {
      accuracy: top1Accuracy(logits, data.test.y, n),
      perClass: seen.map((c, k) => (c ? right[k]! / c : null)),
    };
  } finally {
    await s.release();
  }
}

interface PredictResponse {
  outputs?: Record<string, { data: number[] }>;
  model?: { name: string; version: string; variant: string };
  error?: { code: string; message: string };
}

/** POST test image `i` to the agent; the response body. */
export async function predictImage(agent: EdgeAgent, model: string, input: string, data: Dataset, i: number) {
  const body = JSON.stringify({
    inputs: {
      [input]: { dims: IMAGE_DIMS, data: Array.from(data.test.x.subarray(i * IMAGE_SIZE, (i + 1) * IMAGE_SIZE)) },
    },
  });
  const res = await fetch(`${agent.url}/v1/models/${model}:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const json = (await res.json()) as PredictResponse;
  if (!res.ok || !json.outputs || !json.model)
    throw new VergeError('E_RUNTIME', `${agent.name} answered ${res.status}: ${json.error?.message ?? 'no outputs'}`);
  return { outputs: json.outputs, model: json.model };
}

/** The name of the served model's first input, from the agent's `GET /v1/models`. */
export async function servedInput(agent: EdgeAgent, model: string): Promise<string> {
  const listed = (await (await fetch(`${agent.url}/v1/models`)).json()) as {
    models: { name: string; inputs: { name: string }[] }[];
  };
  const served = listed.models.find((m) => m.name === model);
  if (!served) throw new VergeError('E_NOT_FOUND', `${agent.name} does not serve ${model}`);
  return served.inputs[0]!.name;
}

/** Send `n` test images, one request each, through an agent's HTTP API; accuracy and client-side latency. */
export async function evaluateAgent(agent: EdgeAgent, model: string, data: Dataset, n: number, report: DemoReporter) {
  const input = await servedInput(agent, model);
  const times: number[] = [];
  let correct = 0;
  let served = { name: '', version: '', variant: '' };
  const bar = report.progress(n, `images via ${agent.name}`);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await predictImage(agent, model, input, data, i);
    times.push(performance.now() - t0);
    served = r.model;
    correct += countTop1(Object.values(r.outputs)[0]!.data, data.test.y, 1, i);
    bar.update(i + 1);
  }
  bar.stop();
  times.sort((a, b) => a - b);
  return { accuracy: correct / n, p50: quantile(times, 0.5), p99: quantile(times, 0.99), model: served };
}
