/**
 * Sweep analysis on run summaries (pure): the dimensions of a parallel
 * coordinates plot (params and metrics, numeric or categorical), brushing,
 * parameter importance (correlation with a metric), colours by a param, and
 * grouped curves (mean with a min-max or standard-deviation band).
 */
import { NUMBER_PATTERN } from './filter';
import { IRunSummary } from './tokens';

export interface IDimension {
  /** `params.lr`, `metrics.acc`. */
  key: string;
  label: string;
  kind: 'numeric' | 'categorical';
  /** Numeric: the extent; log when positive and spanning two decades or more. */
  min: number;
  max: number;
  log: boolean;
  /** Categorical: the values in order (at most MAX_CATEGORIES, then "other"). */
  categories: string[];
}

export const MAX_CATEGORIES = 24;
export const OTHER = '(other)';

/** A run's raw value of a key: a metric number, a param's text. */
export function rawValue(
  run: IRunSummary,
  key: string
): string | number | null {
  if (key.startsWith('metrics.')) {
    const v = run.metrics?.[key.slice(8)];
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  }
  if (key.startsWith('params.')) {
    const v = run.params?.[key.slice(7)];
    return v === undefined ? null : v;
  }
  if (key.startsWith('tags.')) {
    const v = run.tags?.[key.slice(5)];
    return v === undefined ? null : v;
  }
  return null;
}

/** A value as a number when it is one (a metric, or a param's numeric text). */
export function numericValue(v: string | number | null): number | null {
  if (typeof v === 'number') {
    return Number.isFinite(v) ? v : null;
  }
  if (typeof v === 'string' && NUMBER_PATTERN.test(v)) {
    return Number(v);
  }
  return null;
}

/** A key's values over runs, read and parsed once (see `column`). */
export interface IColumn {
  /** `rawValue` of each run. */
  raw: Array<string | number | null>;
  /** `numericValue` of each run, NaN when none. */
  num: Float64Array;
  /** Every value present is a number (and one is present). */
  numeric: boolean;
  min: number;
  max: number;
}

const columns = new WeakMap<IRunSummary[], Map<string, IColumn>>();

/**
 * The values of `key` over `runs`, parsed once per runs array: a sweep view
 * of 10 000 runs reads each key for its axes, colours, scatter and
 * importance table, and would otherwise parse every param text each time.
 * (The runs arrays a view holds are not mutated: a change is a new array.)
 */
export function column(runs: IRunSummary[], key: string): IColumn {
  let byKey = columns.get(runs);
  if (!byKey) {
    byKey = new Map();
    columns.set(runs, byKey);
  }
  const cached = byKey.get(key);
  if (cached && cached.raw.length === runs.length) {
    return cached;
  }
  const n = runs.length;
  const raw = new Array<string | number | null>(n);
  const num = new Float64Array(n);
  let numeric = true;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = rawValue(runs[i], key);
    raw[i] = v;
    const x = v === null ? null : numericValue(v);
    if (x === null) {
      num[i] = NaN;
      if (v !== null) {
        numeric = false;
      }
    } else {
      num[i] = x;
      if (x < min) {
        min = x;
      }
      if (x > max) {
        max = x;
      }
    }
  }
  const out = { raw, num, numeric: numeric && min <= max, min, max };
  byKey.set(key, out);
  return out;
}

/**
 * The dimension of `key` over `runs`: numeric when every value present is a
 * number, else categorical (by frequency, the rarest folded into "other").
 */
export function dimension(runs: IRunSummary[], key: string): IDimension {
  const label = key.replace(/^(params|metrics|tags)\./, '');
  const col = column(runs, key);
  if (col.numeric) {
    const { min, max } = col;
    const log = min > 0 && max / min >= 100;
    return { key, label, kind: 'numeric', min, max, log, categories: [] };
  }
  const counts = new Map<string, number>();
  for (const v of col.raw) {
    if (v !== null) {
      const text = String(v);
      counts.set(text, (counts.get(text) ?? 0) + 1);
    }
  }
  let categories = Array.from(counts.keys());
  if (categories.length > MAX_CATEGORIES) {
    categories = categories
      .sort((a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0))
      .slice(0, MAX_CATEGORIES - 1);
    categories.push(OTHER);
  }
  categories.sort((a, b) => {
    const na = numericValue(a);
    const nb = numericValue(b);
    if (a === OTHER || b === OTHER) {
      return a === OTHER ? 1 : -1;
    }
    return na !== null && nb !== null ? na - nb : a.localeCompare(b);
  });
  return {
    key,
    label,
    kind: 'categorical',
    min: 0,
    max: 0,
    log: false,
    categories
  };
}

/** Where a run sits on a dimension, 0 (bottom) to 1 (top); null when it has no value. */
export function position(
  dim: IDimension,
  v: string | number | null
): number | null {
  if (v === null) {
    return null;
  }
  if (dim.kind === 'numeric') {
    const n = numericValue(v);
    if (n === null) {
      return null;
    }
    if (dim.max === dim.min) {
      return 0.5;
    }
    if (dim.log) {
      return (
        (Math.log10(n) - Math.log10(dim.min)) /
        (Math.log10(dim.max) - Math.log10(dim.min))
      );
    }
    return (n - dim.min) / (dim.max - dim.min);
  }
  let i = dim.categories.indexOf(String(v));
  if (i < 0) {
    i = dim.categories.indexOf(OTHER);
  }
  if (i < 0) {
    return null;
  }
  return dim.categories.length === 1 ? 0.5 : i / (dim.categories.length - 1);
}

/** The value at a position of a numeric dimension (axis labels, brush text). */
export function valueAt(dim: IDimension, p: number): number {
  if (dim.log) {
    return Math.pow(
      10,
      Math.log10(dim.min) + p * (Math.log10(dim.max) - Math.log10(dim.min))
    );
  }
  return dim.min + p * (dim.max - dim.min);
}

/** A brush: the runs whose position on `key` lies in [lo, hi] (0..1). */
export interface IBrush {
  key: string;
  lo: number;
  hi: number;
}

/**
 * Positions of every run on every dimension, in one flat array
 * (`runs.length * dims.length`, NaN for missing): drawing and brushing
 * 10 000 runs then never looks a value up twice.
 */
export function positions(
  runs: IRunSummary[],
  dims: IDimension[]
): Float64Array {
  const n = dims.length;
  const out = new Float64Array(runs.length * n);
  dims.forEach((dim, d) => {
    const p = columnPositions(runs, dim);
    for (let r = 0; r < runs.length; r++) {
      out[r * n + d] = p[r];
    }
  });
  return out;
}

/** `position` of every run on one dimension (NaN for none), from its column. */
export function columnPositions(
  runs: IRunSummary[],
  dim: IDimension
): Float64Array {
  const col = column(runs, dim.key);
  const out = new Float64Array(runs.length);
  if (dim.kind === 'numeric') {
    const flat = dim.max === dim.min;
    const l0 = dim.log ? Math.log10(dim.min) : 0;
    const span = dim.log ? Math.log10(dim.max) - l0 : dim.max - dim.min;
    for (let r = 0; r < out.length; r++) {
      const x = col.num[r];
      out[r] = Number.isNaN(x)
        ? NaN
        : flat
          ? 0.5
          : dim.log
            ? (Math.log10(x) - l0) / span
            : (x - dim.min) / span;
    }
    return out;
  }
  const at = new Map<string, number>();
  dim.categories.forEach((c, i) =>
    at.set(
      c,
      dim.categories.length === 1 ? 0.5 : i / (dim.categories.length - 1)
    )
  );
  const other = at.get(OTHER);
  for (let r = 0; r < out.length; r++) {
    const v = col.raw[r];
    out[r] = v === null ? NaN : (at.get(String(v)) ?? other ?? NaN);
  }
  return out;
}

/** Indices of the runs inside every brush (all runs when there is none). */
export function brushed(
  pos: Float64Array,
  count: number,
  dims: IDimension[],
  brushes: IBrush[]
): number[] {
  const active = brushes
    .map(b => ({ d: dims.findIndex(x => x.key === b.key), lo: b.lo, hi: b.hi }))
    .filter(b => b.d >= 0);
  const out: number[] = [];
  const n = dims.length;
  for (let r = 0; r < count; r++) {
    let inside = true;
    for (const b of active) {
      const p = pos[r * n + b.d];
      if (!(p >= b.lo && p <= b.hi)) {
        inside = false;
        break;
      }
    }
    if (inside) {
      out.push(r);
    }
  }
  return out;
}

function pearson(xs: ArrayLike<number>, ys: ArrayLike<number>): number | null {
  const n = xs.length;
  if (n < 3) {
    return null;
  }
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += xs[i];
    my += ys[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i] - mx;
    const dy = ys[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (!(sxx > 0) || !(syy > 0)) {
    return null;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/** Ranks from 0 (ties share their mean rank), by an index sort: no pair objects. */
export function ranks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    order[i] = i;
  }
  order.sort((a, b) => values[a] - values[b] || a - b);
  const out = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]] === values[order[i]]) {
      j++;
    }
    const rank = (i + j) / 2;
    for (let k = i; k <= j; k++) {
      out[order[k]] = rank;
    }
    i = j + 1;
  }
  return out;
}

export interface IImportance {
  key: string;
  /** Runs with both the param and the metric. */
  runs: number;
  /** Pearson correlation (numeric params; of log10 for log dimensions). */
  correlation: number | null;
  /** Spearman rank correlation (numeric params). */
  rank: number | null;
  /**
   * How much of the metric's variance the param's values explain (the
   * correlation ratio squared, eta²: categorical params too), 0 to 1.
   */
  explained: number | null;
}

/**
 * Parameter importance for `metricKey`: per param, the correlation of its
 * values with the metric and the share of the metric's variance its values
 * explain; sorted by the strongest.
 */
export function importance(
  runs: IRunSummary[],
  paramKeys: string[],
  metricKey: string
): IImportance[] {
  const out: IImportance[] = [];
  const metric = column(runs, metricKey).num;
  const n = runs.length;
  // the metric's ranks over every run that has it: what each param with a
  // value on all those runs (the usual sweep) pairs with, sorted once
  let withMetric = 0;
  for (let r = 0; r < n; r++) {
    if (!Number.isNaN(metric[r])) {
      withMetric++;
    }
  }
  let metricRanks: Float64Array | null = null;
  for (const key of paramKeys) {
    const dim = dimension(runs, key);
    const param = column(runs, key);
    const xs = new Float64Array(n);
    const ys = new Float64Array(n);
    let paired = 0;
    // per value of the param: its runs' count and metric sum
    const groups = new Map<string, { n: number; sum: number }>();
    const all = new Float64Array(n);
    let count = 0;
    let sum = 0;
    for (let r = 0; r < n; r++) {
      const y = metric[r];
      const v = param.raw[r];
      if (Number.isNaN(y) || v === null) {
        continue;
      }
      const text = typeof v === 'string' ? v : String(v);
      const group = groups.get(text);
      if (group) {
        group.n++;
        group.sum += y;
      } else {
        groups.set(text, { n: 1, sum: y });
      }
      all[count++] = y;
      sum += y;
      const x = param.num[r];
      if (dim.kind === 'numeric' && !Number.isNaN(x)) {
        xs[paired] = dim.log ? Math.log10(x) : x;
        ys[paired] = y;
        paired++;
      }
    }
    let explained: number | null = null;
    // eta² needs repeated values: with one run per value it "explains" everything
    if (count >= 3 && groups.size >= 2 && groups.size <= count / 2) {
      const mean = sum / count;
      let total = 0;
      for (let i = 0; i < count; i++) {
        total += (all[i] - mean) ** 2;
      }
      let between = 0;
      for (const g of groups.values()) {
        between += g.n * (g.sum / g.n - mean) ** 2;
      }
      explained = total > 0 ? between / total : null;
    }
    const px = xs.subarray(0, paired);
    const py = ys.subarray(0, paired);
    const pairedRanks = () => {
      if (paired !== withMetric) {
        return ranks(py);
      }
      metricRanks = metricRanks ?? ranks(py);
      return metricRanks;
    };
    out.push({
      key,
      runs: count,
      correlation: dim.kind === 'numeric' ? pearson(px, py) : null,
      rank: dim.kind === 'numeric' ? pearson(ranks(px), pairedRanks()) : null,
      explained
    });
  }
  const strength = (i: IImportance) =>
    Math.max(
      Math.abs(i.correlation ?? 0),
      Math.abs(i.rank ?? 0),
      Math.sqrt(i.explained ?? 0)
    );
  return out.sort((a, b) => strength(b) - strength(a));
}

/** Params whose value differs between the runs (the sweep's axes). */
export function varyingParams(runs: IRunSummary[], max = 50): string[] {
  const values = new Map<string, Set<string>>();
  for (const run of runs) {
    for (const k in run.params ?? {}) {
      let set = values.get(k);
      if (!set) {
        set = new Set();
        values.set(k, set);
      }
      if (set.size < 2) {
        set.add(run.params[k]);
      }
    }
  }
  return Array.from(values.entries())
    .filter(([, set]) => set.size > 1)
    .map(([k]) => `params.${k}`)
    .sort()
    .slice(0, max);
}

/** Metric keys of the runs, most common first. */
export function metricKeys(runs: IRunSummary[]): string[] {
  const counts = new Map<string, number>();
  for (const run of runs) {
    for (const k in run.metrics ?? {}) {
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
  }
  return Array.from(counts.entries())
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k]) => `metrics.${k}`);
}

// --------------------------------------------------------------- colours

/** A blue-to-yellow ramp readable on light and dark backgrounds (viridis-like). */
const RAMP = ['#440154', '#3b528b', '#21918c', '#5ec962', '#fde725'];

/** The ramp in 1/RAMP_STEPS steps: colours by value as strings, computed once. */
const RAMP_STEPS = 1024;
let rampTable: string[] | null = null;

/**
 * `rampColor(t)` with t rounded to 1/1024 (no visible difference): 10 000
 * runs coloured by a metric then share at most 1 025 colour strings, and a
 * canvas strokes each colour's runs as one path.
 */
export function rampColorStep(t: number): string {
  if (!rampTable) {
    rampTable = Array.from({ length: RAMP_STEPS + 1 }, (_, i) =>
      rampColor(i / RAMP_STEPS)
    );
  }
  const i = Math.round(Math.min(1, Math.max(0, t)) * RAMP_STEPS);
  return rampTable[Number.isNaN(i) ? 0 : i];
}

export function rampColor(t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const a = parseInt(RAMP[i].slice(1), 16);
  const b = parseInt(RAMP[i + 1].slice(1), 16);
  const mix = (shift: number) =>
    Math.round(((a >> shift) & 255) * (1 - f) + ((b >> shift) & 255) * f);
  return `rgb(${mix(16)}, ${mix(8)}, ${mix(0)})`;
}

// ---------------------------------------------------------------- groups

export type BandKind = 'minmax' | 'std';

export interface IGroupCurve {
  /** The param's value shared by the group. */
  value: string;
  runs: number;
  x: number[];
  mean: number[];
  lo: number[];
  hi: number[];
}

/**
 * Curves of runs grouped by a value: at each step any run of the group
 * logged, the mean and a band (min-max, or mean ± one standard deviation).
 */
export function groupCurves(
  curves: Array<{ group: string; x: number[]; y: Array<number | null> }>,
  band: BandKind
): IGroupCurve[] {
  const byGroup = new Map<string, Map<number, number[]>>();
  const runCounts = new Map<string, number>();
  for (const c of curves) {
    let steps = byGroup.get(c.group);
    if (!steps) {
      steps = new Map();
      byGroup.set(c.group, steps);
    }
    runCounts.set(c.group, (runCounts.get(c.group) ?? 0) + 1);
    for (let i = 0; i < c.x.length; i++) {
      const v = c.y[i];
      if (v === null || !Number.isFinite(v)) {
        continue;
      }
      const list = steps.get(c.x[i]);
      if (list) {
        list.push(v);
      } else {
        steps.set(c.x[i], [v]);
      }
    }
  }
  const out: IGroupCurve[] = [];
  for (const [value, steps] of byGroup) {
    const xs = Array.from(steps.keys()).sort((a, b) => a - b);
    const curve: IGroupCurve = {
      value,
      runs: runCounts.get(value) ?? 0,
      x: xs,
      mean: [],
      lo: [],
      hi: []
    };
    for (const x of xs) {
      const vs = steps.get(x)!;
      const mean = vs.reduce((a, b) => a + b, 0) / vs.length;
      curve.mean.push(mean);
      if (band === 'minmax') {
        curve.lo.push(Math.min(...vs));
        curve.hi.push(Math.max(...vs));
      } else {
        const sd = Math.sqrt(
          vs.reduce((a, b) => a + (b - mean) ** 2, 0) / vs.length
        );
        curve.lo.push(mean - sd);
        curve.hi.push(mean + sd);
      }
    }
    out.push(curve);
  }
  return out.sort((a, b) => {
    const na = numericValue(a.value);
    const nb = numericValue(b.value);
    return na !== null && nb !== null
      ? na - nb
      : a.value.localeCompare(b.value);
  });
}
