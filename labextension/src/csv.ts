/**
 * The runs table as CSV (RFC 4180): the rows in the order shown, the
 * identity columns, then the columns the user chose. Times are ISO 8601
 * (UTC), durations seconds; a missing metric is empty, a non-finite one
 * `NaN`, `inf` or `-inf` (what pandas and spreadsheets read back).
 */
import { durationMs, runValue } from './filter';
import { metricOf } from './format';
import { IRunSummary } from './tokens';

/** Columns every export starts with. */
export const CSV_BASE_COLUMNS = [
  'run_id',
  'name',
  'experiment',
  'status',
  'start_time',
  'end_time',
  'duration_s',
  'parent_run_id'
];

/** One CSV field, quoted when it holds a comma, a quote or a line break. */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  let text: string;
  if (typeof value === 'number') {
    text = Number.isFinite(value)
      ? String(value)
      : Number.isNaN(value)
        ? 'NaN'
        : value > 0
          ? 'inf'
          : '-inf';
  } else {
    text = String(value);
  }
  // A leading =, +, - or @ makes spreadsheets run the cell as a formula.
  if (/^[=+\-@\t\r]/.test(text) && typeof value !== 'number') {
    text = `'${text}`;
  }
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function iso(ms: number | null | undefined): string {
  return typeof ms === 'number' && Number.isFinite(ms)
    ? new Date(ms).toISOString()
    : '';
}

/** The CSV text of `runs` with the extra `columns` (`params.lr`, `metrics.acc`...). */
export function runsToCsv(
  runs: IRunSummary[],
  columns: string[],
  now: number = Date.now()
): string {
  const extra = columns.filter(c => !CSV_BASE_COLUMNS.includes(c));
  const lines = [[...CSV_BASE_COLUMNS, ...extra].map(csvField).join(',')];
  for (const run of runs) {
    const duration = durationMs(run, now);
    const base = [
      run.run_id,
      run.name,
      run.experiment,
      run.status,
      iso(run.start_time),
      iso(run.end_time),
      duration === null ? null : duration / 1000,
      run.parent_run_id
    ];
    const values = extra.map(key =>
      key.startsWith('metrics.') ? metricOf(run, key) : runValue(run, key, now)
    );
    lines.push([...base, ...values].map(csvField).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}

/** Let the browser save `text` as a file called `filename`. */
export function downloadText(
  text: string,
  filename: string,
  type = 'text/csv;charset=utf-8'
): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.style.display = 'none';
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
