// A TypeScript consumer of the installed package, type-checked (tsc --strict, NodeNext) against
// the .d.ts files the tarball ships: each layer entry resolves through the exports map.
import { Sequential, Dense, ReLU, TrainingSession, fit, evaluate, type FitResult } from 'verge-edge';
import { simulate, createStrategy, type SimulationOptions } from 'verge-edge/fl';
import { loadDataset, batches, type Dataset } from 'verge-edge/data';
import { EdgeAgent, type EdgeAgentOptions } from 'verge-edge/edge';
import { buildControlPlane, CloudClient } from 'verge-edge/cloud';
import { quantizeModel, quantizeDynamic } from 'verge-edge/optimize';
import { Session, type TensorValue } from 'verge-edge/runtime';
import { GraphBuilder, encodeModel, type Model } from 'verge-edge/onnx';
import { HTTP_PATHS } from 'verge-edge/protocol';
import { tfliteToOnnx } from 'verge-edge/tflite';

export async function tiny(data: Dataset): Promise<{ history: FitResult; accuracy: number }> {
  const model: Model = new Sequential([4], [new Dense(8), new ReLU(), new Dense(2)]).build({ seed: 0 });
  const s = await TrainingSession.create(model, { loss: 'cross-entropy', optimizer: { kind: 'adam', lr: 0.01 } });
  const history = await fit(s, data, { epochs: 1 });
  const { accuracy } = await evaluate(s, data);
  await s.release();
  return { history, accuracy };
}

export type Surface = [
  SimulationOptions,
  EdgeAgentOptions,
  TensorValue,
  typeof simulate,
  typeof createStrategy,
  typeof loadDataset,
  typeof batches,
  typeof EdgeAgent,
  typeof buildControlPlane,
  typeof CloudClient,
  typeof quantizeModel,
  typeof quantizeDynamic,
  typeof Session,
  typeof GraphBuilder,
  typeof encodeModel,
  typeof HTTP_PATHS,
  typeof tfliteToOnnx,
];
