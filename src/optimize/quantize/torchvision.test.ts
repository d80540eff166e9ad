/**
 * torchvision models (exported on demand by test/fixtures/make_fixtures.py) quantize statically
 * and dynamically, load in onnxruntime and keep outputs close to float32. Batch 1, a few random
 * calibration samples: these models are big for a 2-core test run.
 */
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../onnx/io.ts';
import { Session, synthesizeInputs } from '../../runtime/index.ts';
import { ensureTorchvisionFixture, fixtureSkipReason, TORCHVISION_FIXTURES } from '../../../test/fixtures/index.ts';
import { randomCalibration } from './calibration-data.ts';
import { quantizeDynamic } from './dynamic.ts';
import { executedOps } from './executed-ops.ts';
import { quantizeStaticCalibrated } from './static.ts';
import { cosineSimilarity } from '../../../test/optimize/quantize-models.ts';

const MIN_COSINE = 0.99;
/** Random calibration samples per model: enough for stable min-max ranges on random inputs. */
const CALIBRATION_SAMPLES = 4;

const skipReason = fixtureSkipReason();
if (skipReason && process.env.CI === 'true')
  throw new Error(`torchvision fixtures unavailable under CI: ${skipReason}`);
if (skipReason) console.warn(`skipping torchvision quantization test: ${skipReason}`);

describe.skipIf(!!skipReason)('torchvision models, int8', () => {
  it('mobilenet_v2, squeezenet1_1, resnet18: static and dynamic int8 stay close (cosine >= 0.99) and run int8 kernels', async () => {
    for (const name of TORCHVISION_FIXTURES) {
      const path = await ensureTorchvisionFixture(name);
      expect(path, `fixture ${name}`).toBeDefined();
      const m = loadModel(path!);
      const ref = await Session.create(m, { threads: 1 });
      const feeds = synthesizeInputs(ref.inputs, { batch: 1, seed: 1234 });
      const y0 = Object.values(await ref.run(feeds))[0]!.data as Float32Array;
      await ref.release();
      const st = await quantizeStaticCalibrated(m, randomCalibration(m, CALIBRATION_SAMPLES, 7), { method: 'minmax' });
      const dy = quantizeDynamic(m);
      const cos: Record<string, number> = {};
      for (const [mode, q] of [
        ['static', st],
        ['dynamic', dy],
      ] as const) {
        const s = await Session.create(q.model, { threads: 1 });
        cos[mode] = cosineSimilarity(y0, Object.values(await s.run(feeds))[0]!.data as Float32Array);
        await s.release();
      }
      const k = await executedOps(st.model);
      console.log(
        `${name}: static cos ${cos.static!.toFixed(5)} (${(st.report.bytes_out / st.report.bytes_in).toFixed(3)}x, skipped ${st.report.skipped.length}), ` +
          `dynamic cos ${cos.dynamic!.toFixed(5)} (${(dy.report.bytes_out / dy.report.bytes_in).toFixed(3)}x); ORT int8 kernels ${k.int8_kernels}, float compute ${k.float_compute_kernels}`,
      );
      expect(cos.static).toBeGreaterThanOrEqual(MIN_COSINE);
      expect(cos.dynamic).toBeGreaterThanOrEqual(MIN_COSINE);
      expect(k.ops.QLinearConv).toBeGreaterThan(0);
      expect(k.float_compute_kernels).toBe(0);
    }
  }, 600_000); // three full-size models: ~16 s on a quiet machine, minutes on a loaded one
});
