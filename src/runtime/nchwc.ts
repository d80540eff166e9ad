/**
 * The block size of onnxruntime's NCHWc layout on this machine (MLAS: 16 with AVX-512, 8 with
 * AVX2), or 1 where the com.microsoft.nchwc kernels are absent (onnxruntime-web, CPUs without
 * AVX2): found by running ReorderInput on 4 channels (its minimum), whose output is padded to one block.
 * The answer is a property of the machine and the onnxruntime build, so it is asked once.
 */
import { GraphBuilder, makeModel } from '../onnx/browser.ts';
import { Session } from './session.ts';

let probe: Promise<number> | undefined;

async function probeBlockSize(): Promise<number> {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [1, 4, 1, 1]);
  g.output(g.op('ReorderInput', [x], {}, { domain: 'com.microsoft.nchwc' }), 'float32');
  const model = makeModel(g.graph, { opset: 13, extraOpsets: [{ domain: 'com.microsoft.nchwc', version: 1 }] });
  let session: Session | undefined;
  try {
    session = await Session.create(model, { threads: 1 });
    const out = await session.run({ x: { dtype: 'float32', dims: [1, 4, 1, 1], data: new Float32Array(4) } });
    const b = Object.values(out)[0]?.dims[1];
    return typeof b === 'number' && b > 1 ? b : 1;
  } catch {
    return 1;
  } finally {
    await session?.release();
  }
}

export function nchwcBlockSize(): Promise<number> {
  probe ??= probeBlockSize();
  return probe;
}
