/**
 * `verge run <model.onnx> (--input x.npy | --image f.png | --text "…" | --csv rows.csv | --wav f.wav
 * | --random) [--out y.npy] [--json]`: one inference on onnxruntime with inputs from .npy/.npz
 * files, raw data prepared the way the model's training data was (its verge.data metadata), or
 * synthesized from the declared input types.
 */
import { readFileSync, existsSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { VergeError } from '../../errors.ts';
import {
  readNpy,
  writeNpy,
  type NdArray,
  readNpz,
  writeNpz,
  csvInput,
  imageInput,
  predictionsOf,
  textInput,
  type SamplePrediction,
} from '../../data/index.ts';
import type { NumericArray, Model } from '../../onnx/browser.ts';
import {
  Session,
  formatShape,
  castTensor,
  previewValues,
  summarize,
  type ExecutionProvider,
  type TensorValue,
} from '../../runtime/index.ts';
import { emit, note } from '../output.ts';
import { AUDIO_METADATA, audioInputOf, wavInput, readDataInfo, type DataInfo } from '../../data/browser.ts';
import { loadModel, readBytes } from '../../onnx/index.ts';

/** How many leading values of each output the report shows. */
export const PREVIEW_VALUES = 8;

function toValue(a: NdArray): TensorValue {
  return { dtype: a.dtype, dims: a.shape, data: a.data };
}

/** Read `--input` specs: `file.npy` (single-input model), `name=file.npy`, or `file.npz` (members by input name). */
export function readInputs(
  specs: string[],
  session: Session,
): { feeds: Record<string, TensorValue>; sources: Record<string, string> } {
  const feeds: Record<string, TensorValue> = {};
  const sources: Record<string, string> = {};
  const names = session.inputNames;
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    // Only treat `a=b` as name=file when `a` is an input name: file paths may contain '='.
    const named = eq > 0 && names.includes(spec.slice(0, eq));
    const name = named ? spec.slice(0, eq) : undefined;
    const file = named ? spec.slice(eq + 1) : spec;
    if (extname(file).toLowerCase() === '.npz') {
      const arrays = readNpz(file);
      for (const [member, arr] of Object.entries(arrays)) {
        const target = name ?? member;
        if (!names.includes(target)) {
          throw new VergeError(
            'E_BAD_ARGUMENT',
            `${file} holds '${member}', which is not an input of ${session.source} (inputs: ${names.join(', ')})`,
          );
        }
        feeds[target] = toValue(arr);
        sources[target] = `${file}:${member}`;
      }
      continue;
    }
    let target = name;
    if (!target) {
      const free = names.filter((n) => !(n in feeds));
      if (names.length !== 1 && free.length !== 1) {
        throw new VergeError(
          'E_BAD_ARGUMENT',
          `${session.source} has ${names.length} inputs (${names.join(', ')}): give each as --input NAME=FILE.npy`,
        );
      }
      target = names.length === 1 ? names[0]! : free[0]!;
    }
    feeds[target] = toValue(readNpy(file));
    sources[target] = file;
  }
  return { feeds, sources };
}

function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_') || 'output';
}

/** Where --out writes: one .npy, one .npz, or a folder of NAME.npy. Checked before running. */
type OutPlan = { kind: 'npy' | 'npz' | 'dir'; path: string };

function planOut(out: string, outputCount: number): OutPlan {
  const isDir = existsSync(out) && statSync(out).isDirectory();
  if (isDir || out.endsWith('/')) {
    if (!isDir) throw new VergeError('E_FILE_NOT_FOUND', `output folder ${out} does not exist`);
    return { kind: 'dir', path: out };
  }
  const ext = extname(out).toLowerCase();
  if (ext === '.npz') return { kind: 'npz', path: out };
  if (ext === '.npy') {
    if (outputCount > 1) {
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `the model has ${outputCount} outputs: give --out a .npz file or an existing folder`,
      );
    }
    return { kind: 'npy', path: out };
  }
  throw new VergeError('E_BAD_ARGUMENT', `--out must be a .npy file, a .npz file or an existing folder, got '${out}'`);
}

function asArray(v: TensorValue, name: string): NdArray {
  if (v.dtype === 'string' || v.dtype === 'int4' || v.dtype === 'uint4') {
    throw new VergeError('E_UNSUPPORTED', `output '${name}' is ${v.dtype}, which .npy files here cannot hold`);
  }
  return { dtype: v.dtype, shape: v.dims, data: v.data as NumericArray };
}

function writeOutputs(plan: OutPlan, outputs: Record<string, TensorValue>): string[] {
  const entries = Object.entries(outputs);
  if (plan.kind === 'npy') {
    const [name, v] = entries[0]!;
    writeNpy(plan.path, asArray(v, name));
    return [plan.path];
  }
  if (plan.kind === 'npz') {
    writeNpz(plan.path, Object.fromEntries(entries.map(([n, v]) => [n, asArray(v, n)])));
    return [plan.path];
  }
  // Convert all first so that an unsupported output fails before any file is written.
  const arrays = entries.map(([n, v]) => [join(plan.path, `${safeFileName(n)}.npy`), asArray(v, n)] as const);
  for (const [p, a] of arrays) writeNpy(p, a);
  return arrays.map(([p]) => p);
}

/** The top class of a classifier's first output, named when the model carries class names. */
function prediction(
  model: string,
  outputs: Record<string, TensorValue>,
): { class: number; label?: string; probability?: number } {
  const scores = Object.values(outputs)[0]!.data as Float32Array;
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i]! > scores[best]!) best = i;
  const names = readDataInfo(loadModel(model))?.classNames;
  const probs = outputs.probabilities?.data as Float32Array | undefined;
  return {
    class: best,
    ...(names?.[best] ? { label: names[best] } : {}),
    ...(probs ? { probability: probs[best]! } : {}),
  };
}

/** --wav: the WAV file as the audio model's input. */
function wavFeeds(
  model: string,
  file: string,
): { feeds: Record<string, TensorValue>; sources: Record<string, string> } {
  const audio = audioInputOf(loadModel(model));
  if (!audio)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `${model} does not take audio (no ${AUDIO_METADATA.input} metadata); use --input`,
    );
  const x = wavInput(readBytes(file), audio, file);
  return {
    feeds: { [audio.input]: { dtype: 'float32', ...x } },
    sources: { [audio.input]: `${file} (${(x.dims[1]! / audio.sampleRate).toFixed(2)} s at ${audio.sampleRate} Hz)` },
  };
}

/** The one data input of a model (initializers excluded), for raw inputs. */
function dataInput(ir: Model, model: string): { name: string; dtype?: string; shape?: (number | string | null)[] } {
  const inits = new Set(ir.graph.initializers.map((t) => t.name));
  const inputs = ir.graph.inputs.filter((i) => !inits.has(i.name));
  if (inputs.length !== 1)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `${model} has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); raw inputs need a one-input model: use --input`,
    );
  const i = inputs[0]!;
  const t = i.type?.kind === 'tensor' ? i.type : undefined;
  return {
    name: i.name,
    ...(t?.dtype ? { dtype: t.dtype } : {}),
    ...(t?.shape ? { shape: t.shape.map((d) => (typeof d === 'number' || typeof d === 'string' ? d : null)) } : {}),
  };
}

/** --image / --text / --csv: raw data as the model's input, prepared as its training data was. */
async function rawFeeds(
  model: string,
  opts: RunOptions,
): Promise<{ feeds: Record<string, TensorValue>; sources: Record<string, string>; info: DataInfo | undefined }> {
  const ir = loadModel(model);
  const info = readDataInfo(ir);
  const input = dataInput(ir, model);
  let value: TensorValue;
  let source: string;
  if (opts.image !== undefined) {
    value = await imageInput(info, input, readBytes(opts.image), opts.image);
    source = `${opts.image} (decoded to ${value.dims.slice(1).join('x')})`;
  } else if (opts.text !== undefined) {
    value = textInput(info, opts.text);
    source = `${opts.text.length} text${opts.text.length > 1 ? 's' : ''} (tokenized to ${value.dims[1]} ids)`;
  } else {
    let text: string;
    try {
      text = readFileSync(opts.csv!, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new VergeError(
        code === 'ENOENT' ? 'E_FILE_NOT_FOUND' : 'E_FILE_UNREADABLE',
        `${opts.csv} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}`,
      );
    }
    value = csvInput(info, text, opts.csv!);
    source = `${opts.csv} (${value.dims[0]} ${value.dims.length === 3 ? 'windows' : 'rows'})`;
  }
  return { feeds: { [input.name]: value }, sources: { [input.name]: source }, info };
}

/** predictions (one per sample) and prediction (the first) for raw inputs. */
function rawPredictions(
  outputs: Record<string, TensorValue>,
  info: DataInfo | undefined,
): { prediction?: SamplePrediction; predictions?: SamplePrediction[] } {
  const first = Object.values(outputs)[0];
  if (!first || first.dtype === 'string') return {};
  const predictions = predictionsOf(first as { dims: number[]; data: ArrayLike<number> }, info);
  return { prediction: predictions[0]!, predictions };
}

function describePrediction(p: SamplePrediction): string {
  if (p.value) return `value ${p.value.map((v) => +v.toPrecision(6)).join(', ')}`;
  return `prediction: ${(p.top ?? []).map((c) => `${c.label ?? c.index} (p = ${c.probability.toFixed(3)})`).join(', ')}`;
}

interface RunOptions {
  input?: string[];
  wav?: string;
  image?: string;
  text?: string[];
  csv?: string;
  random?: boolean;
  batch: number;
  seed: number;
  out?: string;
  json?: boolean;
  threads?: number;
  provider: ExecutionProvider;
  cast?: boolean;
}

/** `verge run <model> …` */
export default async function run(model: string, opts: RunOptions): Promise<void> {
  const given = [opts.input?.length, opts.random, opts.wav, opts.image, opts.text?.length, opts.csv].filter(
    (x) => x !== undefined && x !== false && x !== 0,
  ).length;
  if (given === 0)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      'give --input FILE.npy, --image FILE.png, --text "…", --csv ROWS.csv, --wav FILE.wav or --random',
    );
  if (given > 1)
    throw new VergeError('E_BAD_ARGUMENT', '--input, --image, --text, --csv, --wav and --random exclude each other');
  const wav = opts.wav !== undefined ? wavFeeds(model, opts.wav) : undefined;
  const raw =
    opts.image !== undefined || opts.text !== undefined || opts.csv !== undefined
      ? await rawFeeds(model, opts)
      : undefined;
  const { batch, seed, threads, provider } = opts;

  const t0 = performance.now();
  const session = await Session.create(model, { threads, executionProvider: provider });
  const loadMs = performance.now() - t0;
  const plan = opts.out ? planOut(opts.out, session.outputNames.length) : undefined;

  let feeds: Record<string, TensorValue>;
  let sources: Record<string, string>;
  if (wav) {
    ({ feeds, sources } = wav);
  } else if (raw) {
    ({ feeds, sources } = raw);
  } else if (opts.random) {
    feeds = session.synthesizeInputs({ batch, seed });
    sources = Object.fromEntries(Object.keys(feeds).map((k) => [k, `random (seed ${seed})`]));
  } else {
    ({ feeds, sources } = readInputs(opts.input!, session));
    if (opts.cast) {
      for (const spec of session.inputs) {
        const v = feeds[spec.name];
        if (v && spec.dtype && v.dtype !== spec.dtype) {
          feeds[spec.name] = castTensor(v, spec.dtype);
          sources[spec.name] += ` (cast from ${v.dtype})`;
        }
      }
    }
  }

  const t1 = performance.now();
  let outputs: Record<string, TensorValue>;
  try {
    outputs = await session.run(feeds);
  } catch (e) {
    if (e instanceof VergeError && e.code === 'E_DTYPE_MISMATCH' && !opts.random && !opts.cast) {
      throw new VergeError(e.code, `${e.message} (pass --cast to convert)`);
    }
    throw e;
  }
  const ms = performance.now() - t1;
  const written = plan ? writeOutputs(plan, outputs) : [];
  await session.release();

  const report = {
    model,
    provider: session.executionProvider,
    inputs: Object.fromEntries(
      Object.entries(feeds).map(([k, v]) => [k, { dims: v.dims, dtype: v.dtype, source: sources[k] }]),
    ),
    outputs: Object.fromEntries(
      Object.entries(outputs).map(([k, v]) => {
        const s = summarize(v);
        return [
          k,
          {
            dims: v.dims,
            dtype: v.dtype,
            first: previewValues(v, PREVIEW_VALUES),
            min: s.min,
            max: s.max,
            mean: s.mean,
          },
        ];
      }),
    ),
    ...(wav ? { prediction: prediction(model, outputs) } : {}),
    ...(raw ? rawPredictions(outputs, raw.info) : {}),
    ms: Math.round(ms * 1000) / 1000,
    load_ms: Math.round(loadMs * 10) / 10,
    ...(plan ? { out: written } : {}),
  };
  if (written.length) note(`wrote ${written.join(', ')}`);
  emit(opts, report, () => {
    const p = report.prediction;
    const lines = report.predictions
      ? report.predictions.map((q, i) => `${report.predictions!.length > 1 ? `${i}: ` : ''}${describePrediction(q)}`)
      : p
        ? [
            `prediction: ${p.label ?? p.class}${p.probability !== undefined ? ` (p = ${p.probability.toFixed(3)})` : ''}`,
          ]
        : [];
    lines.push(`${model}: ran in ${report.ms.toFixed(2)} ms (load ${report.load_ms} ms, ${report.provider})`);
    for (const [k, v] of Object.entries(report.inputs))
      lines.push(`  input  ${k}: ${v.dtype} ${formatShape(v.dims)} from ${v.source}`);
    for (const [k, v] of Object.entries(report.outputs)) {
      const first = v.first.map((x) => (typeof x === 'number' ? +x.toPrecision(5) : JSON.stringify(x))).join(', ');
      const more = v.dims.reduce((a, b) => a * b, 1) > v.first.length ? ', …' : '';
      const stats = Number.isNaN(v.min)
        ? ''
        : `  min ${+v.min.toPrecision(5)} max ${+v.max.toPrecision(5)} mean ${+v.mean.toPrecision(5)}`;
      lines.push(`  output ${k}: ${v.dtype} ${formatShape(v.dims)} [${first}${more}]${stats}`);
    }
    return lines.join('\n');
  });
}
