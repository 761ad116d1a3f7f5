/**
 * Geometry of the SVG line chart (pure): scales, "nice" ticks, paths that
 * break at missing values, nearest point lookup.
 */

export interface ISeries {
  /** Legend label (run name, or metric key). */
  name: string;
  x: number[];
  y: Array<number | null>;
  color?: string;
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

/** SVG path data; `null` (and non-finite) values break the line. */
export function linePath(
  x: number[],
  y: Array<number | null>,
  sx: (v: number) => number,
  sy: (v: number) => number
): string {
  let d = '';
  let pen = false;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const v = y[i];
    if (v === null || !Number.isFinite(v) || !Number.isFinite(x[i])) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${sx(x[i]).toFixed(1)},${sy(v).toFixed(1)}`;
    pen = true;
  }
  return d;
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
