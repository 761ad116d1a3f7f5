/**
 * Geometry of the SVG line chart (pure): scales, "nice" ticks, paths that
 * break at missing values, nearest point lookup.
 */

export interface ISeries {
  /** Legend label (run name, or metric key). */
  name: string;
  /** Steps. */
  x: number[];
  y: Array<number | null>;
  /** Wall-clock times of the points (ms), for the wall and relative x axes. */
  t?: number[];
  color?: string;
  /** A band drawn under the line (a group's min-max or standard deviation). */
  band?: { lo: number[]; hi: number[] };
}

const TENTHS = ['.0', '.1', '.2', '.3', '.4', '.5', '.6', '.7', '.8', '.9'];

/**
 * `v.toFixed(1)`, about twice as fast: integer arithmetic, then one small
 * integer's string. The same text, except at exact halves (which may round
 * the other way: a tenth of a unit) and `-0.0` (which reads `0.0`). What
 * `PathWriter` writes, as bytes, for every coordinate of a path: the
 * definition of that text, which the tests hold the paths to.
 */
export function fixed1(v: number): string {
  const r = Math.round(v * 10);
  if (!(r > -1e15 && r < 1e15)) {
    return v.toFixed(1);
  }
  if (r >= 0) {
    const i = Math.floor(r / 10);
    return i + TENTHS[r - i * 10];
  }
  const i = Math.floor(-r / 10);
  return '-' + i + TENTHS[-r - i * 10];
}

/** The largest buffer a `PathWriter` keeps between paths (bytes). */
const MAX_KEPT_BUFFER = 1 << 22;

/**
 * SVG path data written as ASCII bytes into one growing buffer and decoded
 * once, each coordinate as `fixed1` writes it (the same text): no string per
 * number and no concatenation. A smoothing step redraws 150 paths of 1,000
 * points; built by concatenation they took ~27 ms in Chromium, ~10 ms so.
 */
class PathWriter {
  private _buf = new Uint8Array(1 << 16);
  private _pos = 0;
  private readonly _digits = new Uint8Array(24);
  private readonly _decoder = new TextDecoder();

  /** Start a path of at most `points` coordinate pairs. */
  begin(points: number): void {
    this._pos = 0;
    // a command, a comma, two numbers of at most 17 digits, a sign and a point each
    this._reserve(points * 42 + 8);
  }

  /** `M` or `L`, then `x,y`. */
  point(command: 'M' | 'L', x: number, y: number): void {
    this._buf[this._pos++] = command === 'M' ? 77 : 76;
    this._tenths(x);
    this._buf[this._pos++] = 44; // ,
    this._tenths(y);
  }

  close(): void {
    this._reserve(1);
    this._buf[this._pos++] = 90; // Z
  }

  text(): string {
    const text = this._decoder.decode(this._buf.subarray(0, this._pos));
    if (this._buf.length > MAX_KEPT_BUFFER) {
      // a huge history's buffer is not kept for the small paths that follow
      this._buf = new Uint8Array(1 << 16);
    }
    return text;
  }

  private _reserve(n: number): void {
    if (this._pos + n > this._buf.length) {
      const grown = new Uint8Array(
        Math.max(this._buf.length * 2, this._pos + n)
      );
      grown.set(this._buf.subarray(0, this._pos));
      this._buf = grown;
    }
  }

  /** `fixed1(v)`: digits of the rounded tenths, a point before the last one. */
  private _tenths(v: number): void {
    const r = Math.round(v * 10);
    const buf = this._buf;
    if (!(r > -1e15 && r < 1e15)) {
      const text = v.toFixed(1); // NaN, infinite or huge: as fixed1 (rare)
      this._reserve(text.length);
      for (let k = 0; k < text.length; k++) {
        this._buf[this._pos++] = text.charCodeAt(k);
      }
      return;
    }
    let u = r;
    if (u < 0) {
      buf[this._pos++] = 45; // -
      u = -u;
    }
    if (u < 100000) {
      // below 10,000 (every coordinate of a chart): small-integer arithmetic
      let pos = this._pos;
      const whole = (u / 10) | 0;
      if (whole >= 1000) {
        buf[pos++] = 48 + ((whole / 1000) | 0);
      }
      if (whole >= 100) {
        buf[pos++] = 48 + (((whole / 100) | 0) % 10);
      }
      if (whole >= 10) {
        buf[pos++] = 48 + (((whole / 10) | 0) % 10);
      }
      buf[pos++] = 48 + (whole % 10);
      buf[pos++] = 46; // .
      buf[pos++] = 48 + u - whole * 10;
      this._pos = pos;
      return;
    }
    const tenth = u % 10;
    u = (u - tenth) / 10;
    const digits = this._digits;
    let n = 0;
    do {
      const q = Math.floor(u / 10);
      digits[n++] = 48 + u - q * 10;
      u = q;
    } while (u > 0);
    while (n > 0) {
      buf[this._pos++] = digits[--n];
    }
    buf[this._pos++] = 46; // .
    buf[this._pos++] = 48 + tenth;
  }
}

/** Paths are built one at a time (synchronously): one writer serves them all. */
let writer: PathWriter | null = null;

function pathWriter(): PathWriter {
  writer ??= new PathWriter();
  return writer;
}

/** SVG path of a closed band between `lo` and `hi` (finite points only). */
export function bandPath(
  x: number[],
  lo: number[],
  hi: number[],
  sx: (v: number) => number,
  sy: (v: number) => number
): string {
  const keep: number[] = [];
  for (let i = 0; i < x.length; i++) {
    if (
      Number.isFinite(x[i]) &&
      Number.isFinite(lo[i]) &&
      Number.isFinite(hi[i])
    ) {
      keep.push(i);
    }
  }
  if (keep.length < 2) {
    return '';
  }
  const out = pathWriter();
  out.begin(2 * keep.length);
  keep.forEach((i, k) => out.point(k ? 'L' : 'M', sx(x[i]), sy(hi[i])));
  for (let k = keep.length - 1; k >= 0; k--) {
    out.point('L', sx(x[keep[k]]), sy(lo[keep[k]]));
  }
  out.close();
  return out.text();
}

/** Categorical palette readable on light and dark backgrounds. */
export const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
  '#7f7f7f'
];

export function seriesColor(index: number): string {
  return PALETTE[index % PALETTE.length];
}

export interface IExtent {
  min: number;
  max: number;
}

/** Extent of the finite values; a flat or empty extent is widened. */
export function extent(values: Iterable<number | null>): IExtent | null {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v !== null && Number.isFinite(v)) {
      if (v < min) {
        min = v;
      }
      if (v > max) {
        max = v;
      }
    }
  }
  if (min === Infinity) {
    return null;
  }
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    return { min: min - pad, max: max + pad };
  }
  return { min, max };
}

/** About `count` round tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max) || max <= min) {
    return Number.isFinite(min) ? [min] : [];
  }
  const raw = (max - min) / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const start = Math.ceil(min / step) * step;
  const ticks: number[] = [];
  for (let v = start; v <= max + step * 1e-9; v += step) {
    ticks.push(Number(v.toPrecision(12)));
    if (ticks.length > 50) {
      break;
    }
  }
  return ticks;
}

export function scale(
  domain: IExtent,
  range: [number, number]
): (v: number) => number {
  const d = domain.max - domain.min || 1;
  const [r0, r1] = range;
  return (v: number) => r0 + ((v - domain.min) / d) * (r1 - r0);
}

/**
 * How far (in SVG units) a point left out of a line may lie from it: half the
 * 0.1-unit step coordinates are rounded to, so dropping it moves the curve no
 * more than the rounding already does (a tenth of a pixel, at most).
 */
export const LINE_TOLERANCE = 0.05;

/**
 * SVG path data; `null` (and non-finite) values break the line. Points that
 * lie on the line between their neighbours (within `LINE_TOLERANCE`,
 * vertically) are left out: a smooth curve (a decaying learning rate, a
 * strongly smoothed loss) draws with a fraction of its points, which the
 * browser then parses and lays out at every smoothing step; a noisy one
 * keeps them all.
 *
 * One pass: from the last point drawn (the anchor), the slopes that pass
 * within the tolerance of every point skipped since narrow to [lo, hi]; the
 * next point extends the segment while its slope stays in them, else the
 * last one seen is drawn and becomes the anchor. Only while x increases (a
 * step or time axis); x going back draws every point.
 */
export function linePath(
  x: number[],
  y: Array<number | null>,
  sx: (v: number) => number,
  sy: (v: number) => number
): string {
  const out = pathWriter();
  const n = Math.min(x.length, y.length);
  const eps = LINE_TOLERANCE;
  out.begin(n);
  let pen = false; // a point of the current run is drawn (the anchor)
  let ax = 0;
  let ay = 0;
  let pending = false; // (qx, qy): the last point seen, not drawn yet
  let qx = 0;
  let qy = 0;
  let lo = -Infinity;
  let hi = Infinity;
  // A point drawn becomes the anchor; no skipped point narrows the slopes yet.
  const anchorAt = (px: number, py: number): void => {
    ax = px;
    ay = py;
    lo = -Infinity;
    hi = Infinity;
  };
  for (let i = 0; i < n; i++) {
    const v = y[i];
    const xi = x[i];
    if (
      v === null ||
      !(v < Infinity && v > -Infinity) ||
      !(xi < Infinity && xi > -Infinity)
    ) {
      if (pending) {
        out.point('L', qx, qy);
        pending = false;
      }
      pen = false;
      continue;
    }
    const px = sx(xi);
    const py = sy(v);
    if (!pen) {
      out.point('M', px, py);
      pen = true;
      anchorAt(px, py);
      continue;
    }
    if (pending) {
      // skipping q: the segment from the anchor must pass within eps of it
      const dq = qx - ax;
      const qlo = Math.max(lo, (qy - ay - eps) / dq);
      const qhi = Math.min(hi, (qy - ay + eps) / dq);
      const slope = (py - ay) / (px - ax);
      if (px > qx && slope >= qlo && slope <= qhi) {
        lo = qlo;
        hi = qhi;
        qx = px;
        qy = py;
        continue;
      }
      out.point('L', qx, qy);
      pending = false;
      anchorAt(qx, qy);
    }
    if (px > ax) {
      pending = true;
      qx = px;
      qy = py;
    } else {
      out.point('L', px, py);
      anchorAt(px, py);
    }
  }
  if (pending) {
    out.point('L', qx, qy);
  }
  return out.text();
}

/** Index of the x value closest to `target` (x sorted ascending), or -1. */
export function nearestIndex(x: number[], target: number): number {
  const n = x.length;
  if (!n) {
    return -1;
  }
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x[mid] < target) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo > 0 && Math.abs(x[lo - 1] - target) <= Math.abs(x[lo] - target)) {
    return lo - 1;
  }
  return lo;
}

/** Total number of points of all series (the `data-points` attribute). */
export function pointCount(series: ISeries[]): number {
  return series.reduce((n, s) => n + Math.min(s.x.length, s.y.length), 0);
}

// ------------------------------------------------------------------ controls

/** What the x axis shows: the step, the wall-clock time, or the time since the first point. */
export type XAxis = 'step' | 'wall' | 'relative';

/** The chart controls of a view (run detail, compare): shared by its charts. */
export interface IChartOptions {
  /** Exponential moving average weight, 0 (off) to 0.99 (TensorBoard's slider). */
  smoothing: number;
  logY: boolean;
  /** Scale y to Tukey's fences, so one diverged run does not flatten the rest. */
  clipOutliers: boolean;
  xAxis: XAxis;
}

export const DEFAULT_CHART_OPTIONS: IChartOptions = {
  smoothing: 0,
  logY: false,
  clipOutliers: false,
  xAxis: 'step'
};

/**
 * TensorBoard's smoothing: an exponential moving average debiased at the
 * start (so the first points are not pulled towards 0). Missing and
 * non-finite values stay missing and do not move the average.
 */
export function emaSmooth(
  y: Array<number | null>,
  weight: number
): Array<number | null> {
  if (!(weight > 0)) {
    return y;
  }
  const w = Math.min(weight, 0.999);
  const out: Array<number | null> = new Array(y.length);
  let last = 0;
  let wn = 1; // w to the power of the values seen
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (v === null || !Number.isFinite(v)) {
      out[i] = null;
      continue;
    }
    last = last * w + (1 - w) * v;
    wn *= w;
    out[i] = last / (1 - wn);
  }
  return out;
}

/**
 * The y range without outliers: Tukey's fences (1.5 interquartile ranges
 * beyond the quartiles), kept within the data. A diverged run's tail (even a
 * tenth of the points) no longer flattens the other curves. Few values: the
 * extent.
 */
export function clippedExtent(values: Iterable<number | null>): IExtent | null {
  const finite: number[] = [];
  for (const v of values) {
    if (v !== null && Number.isFinite(v)) {
      finite.push(v);
    }
  }
  if (finite.length < 10) {
    return extent(finite);
  }
  finite.sort((a, b) => a - b);
  const n = finite.length;
  const quantile = (q: number) => {
    const pos = q * (n - 1);
    const lo = Math.floor(pos);
    return (
      finite[lo] + (finite[Math.min(n - 1, lo + 1)] - finite[lo]) * (pos - lo)
    );
  };
  const q1 = quantile(0.25);
  const q3 = quantile(0.75);
  const iqr = q3 - q1;
  if (!(iqr > 0)) {
    return extent(finite);
  }
  return {
    min: Math.max(finite[0], q1 - 1.5 * iqr),
    max: Math.min(finite[n - 1], q3 + 1.5 * iqr)
  };
}

/**
 * The finite values of `ys` whose x lies in [lo, hi] (every series), as
 * `extent` or `clippedExtent` (when `clip`) reads them, plus `extra` values
 * (bands); `positive` keeps only values > 0 of `extra`. No intermediate
 * arrays unless clipping needs them.
 */
export function rangeInView(
  xs: number[][],
  ys: Array<Array<number | null>>,
  lo: number,
  hi: number,
  clip: boolean,
  extra: number[][] = []
): IExtent | null {
  if (clip) {
    const values: number[] = [];
    for (let s = 0; s < ys.length; s++) {
      const x = xs[s];
      const y = ys[s];
      for (let j = 0; j < y.length; j++) {
        const v = y[j];
        if (v !== null && x[j] >= lo && x[j] <= hi) {
          values.push(v);
        }
      }
    }
    for (const e of extra) {
      values.push(...e);
    }
    return clippedExtent(values);
  }
  let min = Infinity;
  let max = -Infinity;
  for (let s = 0; s < ys.length; s++) {
    const x = xs[s];
    const y = ys[s];
    for (let j = 0; j < y.length; j++) {
      const v = y[j];
      if (
        v !== null &&
        v < Infinity &&
        v > -Infinity &&
        x[j] >= lo &&
        x[j] <= hi
      ) {
        if (v < min) {
          min = v;
        }
        if (v > max) {
          max = v;
        }
      }
    }
  }
  const bounds: [number, number] = [min, max];
  for (const e of extra) {
    widenToFinite(bounds, e);
  }
  return extent(bounds[0] <= bounds[1] ? bounds : []);
}

/**
 * Widens `bounds` ([min, max], in place) to the finite values of `values`:
 * an indexed loop, no iterator or intermediate array (charts call it per
 * redraw on thousands of points).
 */
export function widenToFinite(
  bounds: [number, number],
  values: ArrayLike<number | null>
): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || !(v < Infinity && v > -Infinity)) {
      continue;
    }
    if (v < bounds[0]) {
      bounds[0] = v;
    }
    if (v > bounds[1]) {
      bounds[1] = v;
    }
  }
}

/** A log10 scale of a positive domain. */
export function logScale(
  domain: IExtent,
  range: [number, number]
): (v: number) => number {
  const l0 = Math.log10(domain.min);
  const span = Math.log10(domain.max) - l0 || 1;
  const [r0, r1] = range;
  return (v: number) => r0 + ((Math.log10(v) - l0) / span) * (r1 - r0);
}

/** Only the positive values (a log axis cannot show the others). */
export function positiveOnly(y: Array<number | null>): Array<number | null> {
  return y.map(v => (v !== null && v > 0 ? v : null));
}

/** Ticks of a log axis: the powers of ten in range, or linear ticks within one decade. */
export function logTicks(min: number, max: number): number[] {
  const lo = Math.ceil(Math.log10(min));
  const hi = Math.floor(Math.log10(max));
  if (hi - lo >= 1) {
    const step = Math.max(1, Math.ceil((hi - lo + 1) / 6));
    const out: number[] = [];
    for (let e = lo; e <= hi; e += step) {
      out.push(Number(Math.pow(10, e).toPrecision(12)));
    }
    return out;
  }
  return niceTicks(min, max, 4).filter(t => t > 0);
}

/** The x values of a metric history for the x axis chosen (relative: seconds). */
export function xValues(
  steps: number[],
  timestamps: number[] | undefined,
  axis: XAxis
): number[] {
  if (axis === 'step' || !timestamps || !timestamps.length) {
    return steps;
  }
  if (axis === 'wall') {
    return timestamps;
  }
  const t0 = timestamps[0];
  return timestamps.map(t => (t - t0) / 1000);
}

/** Whether every series holds at most one finite value (show it as a value). */
export function isSingleValue(series: ISeries[]): boolean {
  let any = false;
  for (const s of series) {
    let n = 0;
    for (const v of s.y) {
      if (v !== null && Number.isFinite(v)) {
        n++;
      }
    }
    if (n > 1) {
      return false;
    }
    any = any || n === 1;
  }
  return any;
}
