/**
 * Display helpers (pure).
 */

/** `1.2 s`, `3 min 4 s`, `2 h 5 min`, `120 ms`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    return '';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  const s = ms / 1000;
  if (s < 60) {
    return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  }
  const totalS = Math.round(s);
  const m = Math.floor(totalS / 60);
  if (m < 60) {
    const rs = totalS % 60;
    return rs ? `${m} min ${rs} s` : `${m} min`;
  }
  const h = Math.floor(m / 60);
  const rm = m % 60;
  if (h < 48) {
    return rm ? `${h} h ${rm} min` : `${h} h`;
  }
  const d = Math.floor(h / 24);
  return `${d} d ${h % 24} h`;
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Local `YYYY-MM-DD HH:MM:SS`, or `HH:MM:SS` when `today` is the same day. */
export function formatTime(
  ms: number | null | undefined,
  now: number = Date.now()
): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    return '';
  }
  const d = new Date(ms);
  const n = new Date(now);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (
    d.getFullYear() === n.getFullYear() &&
    d.getMonth() === n.getMonth() &&
    d.getDate() === n.getDate()
  ) {
    return time;
  }
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

const MONTHS = [
  'Jan',
  'Feb',
  'Mar',
  'Apr',
  'May',
  'Jun',
  'Jul',
  'Aug',
  'Sep',
  'Oct',
  'Nov',
  'Dec'
];

/** For narrow columns: `HH:MM` today, `Mon D` this year, else `YYYY-MM`. */
export function formatShortTime(
  ms: number | null | undefined,
  now: number = Date.now()
): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    return '';
  }
  const d = new Date(ms);
  const n = new Date(now);
  if (d.getFullYear() !== n.getFullYear()) {
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}`;
  }
  if (d.getMonth() === n.getMonth() && d.getDate() === n.getDate()) {
    return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }
  return `${MONTHS[d.getMonth()]} ${d.getDate()}`;
}

/** For narrow columns: `120ms`, `1.2s`, `42s`, `3m04s`, `2h05m`, `3d04h`. */
export function formatShortDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    return '';
  }
  if (ms < 1000) {
    return `${Math.round(ms)}ms`;
  }
  const s = ms / 1000;
  if (s < 60) {
    return `${s < 10 ? s.toFixed(1) : Math.round(s)}s`;
  }
  const totalS = Math.round(s);
  const m = Math.floor(totalS / 60);
  if (m < 60) {
    return `${m}m${pad(totalS % 60)}s`;
  }
  const h = Math.floor(m / 60);
  if (h < 24) {
    return `${h}h${pad(m % 60)}m`;
  }
  return `${Math.floor(h / 24)}d${pad(h % 24)}h`;
}

/** Full local date-time for tooltips. */
export function formatDateTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    return '';
  }
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(
    d.getHours()
  )}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A metric value: 4 significant digits, exponent for very small/large. */
export function formatNumber(v: number | null | undefined): string {
  if (v === null || v === undefined) {
    return '';
  }
  if (!Number.isFinite(v)) {
    return Number.isNaN(v) ? 'NaN' : v > 0 ? '∞' : '-∞';
  }
  if (v === 0) {
    return '0';
  }
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e9) {
    return String(v);
  }
  if (a >= 1e6 || a < 1e-3) {
    return v.toExponential(3);
  }
  return String(Number(v.toPrecision(4)));
}

/** The number a non-finite marker of the REST API stands for. */
export function nonfiniteNumber(
  marker: string | null | undefined
): number | null {
  switch (marker) {
    case 'NaN':
      return NaN;
    case 'Infinity':
      return Infinity;
    case '-Infinity':
      return -Infinity;
    default:
      return null;
  }
}

/**
 * A run's latest value of metric `key` (`metrics.` prefix optional): the
 * number, NaN or ±Infinity when it was logged non-finite (the REST API sends
 * `null` and names it in `nonfinite_metrics`), null when the run has none.
 * Formatted with `formatNumber`, it reads `NaN`, `∞` or `-∞` in the list, the
 * detail and compare alike.
 */
export function metricOf(
  run: {
    metrics: { [key: string]: number | null };
    nonfinite_metrics?: { [key: string]: string };
  },
  key: string
): number | null {
  const k = key.startsWith('metrics.') ? key.slice(8) : key;
  const v = run.metrics[k];
  if (typeof v === 'number') {
    return v;
  }
  return nonfiniteNumber(run.nonfinite_metrics?.[k]);
}

/** Any cell value of the runs table. */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) {
    return '';
  }
  if (typeof v === 'number') {
    return formatNumber(v);
  }
  return String(v);
}

/** `1.5 KB`, `3.2 MB`. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) {
    return '';
  }
  if (n < 1024) {
    return `${n} B`;
  }
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/**
 * A number's text split where it should align on the decimal point:
 * `['12', '.5']`, `['3', '']`, `['1', '.2e-5']`; null for text that is not a
 * number (it is not aligned).
 */
export function splitDecimal(text: string): [string, string] | null {
  const m = /^([+-]?\d[\d,]*|[+-]?)(\.\d*)?([eE][+-]?\d+)?$/.exec(text.trim());
  if (!m || (!m[1].replace(/[+-]/, '') && !m[2])) {
    return null;
  }
  return [m[1], (m[2] ?? '') + (m[3] ?? '')];
}
