import { statSync } from 'node:fs';
import { loadModel, saveModel } from '../../onnx/io.ts';
import { emit } from '../output.ts';

/** `verge convert <in> --out <out>` */
export default function convert(input: string, opts: { out: string; json?: boolean }): void {
  const model = loadModel(input);
  const bytesIn = statSync(input).size;
  const bytesOut = saveModel(model, opts.out);
  emit(
    opts,
    { in: input, out: opts.out, bytes_in: bytesIn, bytes_out: bytesOut, bytes: bytesOut },
    () =>
      `wrote ${opts.out}: ${bytesOut.toLocaleString('en-US')} bytes (from ${bytesIn.toLocaleString('en-US')} bytes)`,
  );
}
