/** Line charts over uPlot: x values and named series, redrawn as data arrives. */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const COLORS = ['#2f6fdb', '#1f8a4c', '#b7791f', '#c53030', '#6b46c1'];
/** Tick steps for an axis of whole numbers. */
const INTEGER_INCREMENTS = Object.freeze([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000]);

export class LineChart {
  private readonly plot: uPlot;
  private readonly data: number[][];

  constructor(
    el: HTMLElement,
    xLabel: string,
    series: string[],
    /**
     * `integerX`: x ticks on whole numbers only (rounds, steps); `rightSeries`: this series on its
     * own scale with an axis on the right (a loss beside an accuracy %).
     */
    opts: { width?: number; height?: number; time?: boolean; integerX?: boolean; rightSeries?: string } = {},
  ) {
    this.data = [[], ...series.map(() => [])];
    const right = opts.rightSeries;
    this.plot = new uPlot(
      {
        width: opts.width ?? Math.max(320, el.clientWidth || 640),
        height: opts.height ?? 220,
        scales: { x: { time: opts.time ?? false } },
        axes: [
          { label: xLabel, ...(opts.integerX ? { incrs: [...INTEGER_INCREMENTS] } : {}) },
          {},
          ...(right ? [{ scale: right, side: 1, label: right, grid: { show: false } }] : []),
        ],
        series: [
          { label: xLabel },
          ...series.map((label, i) => ({
            label,
            stroke: COLORS[i % COLORS.length],
            width: 2,
            ...(label === right ? { scale: right } : {}),
          })),
        ],
      },
      this.data as uPlot.AlignedData,
      el,
    );
  }

  /** Append one point per series (null for a gap). */
  push(x: number, ys: (number | null)[]): void {
    this.data[0]!.push(x);
    ys.forEach((y, i) => this.data[i + 1]!.push(y as number));
    this.plot.setData(this.data as uPlot.AlignedData);
  }

  /** Replace every point; `xRange` fixes the x axis (a time window) instead of fitting the points. */
  set(xs: number[], series: (number | null)[][], xRange?: [number, number]): void {
    this.data.length = 0;
    this.data.push(xs, ...(series as number[][]));
    this.plot.setData(this.data as uPlot.AlignedData);
    if (xRange) this.plot.setScale('x', { min: xRange[0], max: xRange[1] });
  }
}
