/** Images in and out of the 28×28 grayscale form the CNN takes: drawing pad, uploads, previews. */
import { float32 } from '../../runtime/index.ts';
import type { TrainingSession } from '../../train/browser.ts';

/** Paint a [h, w] sample in [0, 1] onto a canvas (white on black, like Fashion-MNIST). */
export function drawSample(canvas: HTMLCanvasElement, x: Float32Array, h: number, w: number): void {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const v = Math.round(255 * x[i]!);
    img.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

/** Grayscale pixels in [0, 1] of a canvas scaled to w × h (mean of RGB). */
function canvasPixels(source: CanvasImageSource, w: number, h: number): Float32Array {
  const small = document.createElement('canvas');
  small.width = w;
  small.height = h;
  const ctx = small.getContext('2d')!;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, w, h);
  ctx.drawImage(source, 0, 0, w, h);
  const { data } = ctx.getImageData(0, 0, w, h);
  const out = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) out[i] = (data[4 * i]! + data[4 * i + 1]! + data[4 * i + 2]!) / (3 * 255);
  return out;
}

/** An uploaded picture as a sample; photos on a light background are inverted (Fashion-MNIST is light on dark). */
export async function imageToPixels(file: Blob, w: number, h: number): Promise<Float32Array> {
  const bitmap = await createImageBitmap(file);
  const px = canvasPixels(bitmap, w, h);
  let mean = 0;
  for (const v of px) mean += v;
  if (mean / px.length > 0.5) for (let i = 0; i < px.length; i++) px[i] = 1 - px[i]!;
  return px;
}

/** Softmax of the model's logits for one sample, classes ranked by probability. */
export async function classifyPixels(
  session: TrainingSession,
  pixels: Float32Array,
  shape: number[],
  names: readonly string[],
): Promise<{ name: string; probability: number }[]> {
  const { logits } = await session.predict({ input: float32([1, ...shape], pixels) });
  const z = Array.from(logits!.data as Float32Array);
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e
    .map((v, i) => ({ name: names[i] ?? String(i), probability: v / sum }))
    .sort((a, b) => b.probability - a.probability);
}

/** A black pad drawn on in white with the pointer. */
export class PadDrawing {
  private drawing = false;
  private readonly ctx: CanvasRenderingContext2D;

  constructor(private readonly canvas: HTMLCanvasElement) {
    this.ctx = canvas.getContext('2d')!;
    this.clear();
    canvas.addEventListener('pointerdown', (e) => {
      this.drawing = true;
      this.ctx.beginPath();
      this.ctx.moveTo(e.offsetX, e.offsetY);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!this.drawing) return;
      this.ctx.lineTo(e.offsetX, e.offsetY);
      this.ctx.stroke();
    });
    for (const ev of ['pointerup', 'pointerleave']) canvas.addEventListener(ev, () => (this.drawing = false));
  }

  clear(): void {
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.ctx.strokeStyle = '#fff';
    this.ctx.lineWidth = this.canvas.width / 12;
    this.ctx.lineCap = 'round';
    this.ctx.lineJoin = 'round';
  }

  pixels(w: number, h: number): Float32Array {
    return canvasPixels(this.canvas, w, h);
  }
}
