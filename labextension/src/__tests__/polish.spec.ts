import { parseCsv, prettyJson, previewKind, imageType } from '../artifacts';
import { runsToCsv } from '../csv';
import { formatNumber, metricOf, nonfiniteNumber } from '../format';
import { listLayout } from '../layout';
import { columnInfo, MAX_COLUMN_WIDTH, MIN_COLUMN_WIDTH, orderColumns, RunsModel } from '../model';
import { makeRun } from './helpers';

describe('non-finite metrics', () => {
  const run = makeRun({
    metrics: { acc: 0.5, loss: null, grad: null, low: null, gone: null },
    nonfinite_metrics: { loss: 'NaN', grad: 'Infinity', low: '-Infinity' }
  });

  it('read NaN, ∞ and -∞, and a missing value stays missing', () => {
    expect(formatNumber(metricOf(run, 'loss'))).toBe('NaN');
    expect(formatNumber(metricOf(run, 'metrics.grad'))).toBe('∞');
    expect(formatNumber(metricOf(run, 'low'))).toBe('-∞');
    expect(metricOf(run, 'gone')).toBeNull();
    expect(metricOf(run, 'no-such')).toBeNull();
    expect(metricOf(run, 'acc')).toBe(0.5);
    expect(nonfiniteNumber('bogus')).toBeNull();
  });

  it('are NaN, inf and -inf in the CSV export', () => {
    const line = runsToCsv(
      [run],
      ['metrics.loss', 'metrics.grad', 'metrics.low', 'metrics.gone']
    ).split('\r\n')[1];
    expect(line.endsWith(',NaN,inf,-inf,')).toBe(true);
  });
});

describe('column widths and order', () => {
  const cols = ['status', 'name', 'start_time', 'duration', 'params.lr', 'metrics.acc'].map(
    columnInfo
  );

  it('a width the user set holds in every layout step', () => {
    const wide = listLayout(cols, 2000, { 'params.lr': 180 });
    expect(wide.columns.find(c => c.column.key === 'params.lr')?.width).toBe(180);
    const narrow = listLayout(cols, 250, { 'params.lr': 180 });
    expect(narrow.columns.find(c => c.column.key === 'params.lr')?.width).toBe(180);
    expect(narrow.minWidth).toBeGreaterThan(250); // it scrolls sideways, name frozen
    expect(Object.keys(narrow.sticky)).toEqual(['status', 'name']);
    // the name still fills the row
    const named = listLayout(cols, 2000, { name: 200 });
    expect(named.template).toContain('minmax(200px, 1fr)');
  });

  it('orders movable columns, the frozen ones lead', () => {
    const keys = orderColumns(cols, ['metrics.acc', 'name', 'start_time']).map(c => c.key);
    expect(keys).toEqual(['status', 'name', 'metrics.acc', 'start_time', 'duration', 'params.lr']);
  });

  it('moves a column before another, keeps frozen ones, clamps widths', () => {
    const model = new RunsModel({ columns: ['params.lr', 'metrics.acc'] });
    const kinds: string[] = [];
    model.changed.connect((_, k) => kinds.push(k));
    model.moveColumn('metrics.acc', 'start_time');
    expect(model.orderedColumns.map(c => c.key)).toEqual([
      'status',
      'name',
      'metrics.acc',
      'start_time',
      'duration',
      'params.lr'
    ]);
    model.moveColumn('start_time', null);
    expect(model.orderedColumns.map(c => c.key).slice(-1)).toEqual(['start_time']);
    model.moveColumn('name', null); // frozen: stays
    expect(model.orderedColumns[1].key).toBe('name');
    model.setColumnWidth('params.lr', 5);
    expect(model.columnWidths['params.lr']).toBe(MIN_COLUMN_WIDTH);
    model.setColumnWidth('params.lr', 1e6);
    expect(model.columnWidths['params.lr']).toBe(MAX_COLUMN_WIDTH);
    model.setColumnWidth('params.lr', null);
    expect(model.columnWidths).toEqual({});
    expect(kinds.every(k => k === 'layout')).toBe(true);
    expect(kinds.length).toBe(5);
  });
});

describe('artifact previews', () => {
  it('pick a preview by the file name', () => {
    expect(previewKind('plots/loss.PNG')).toBe('image');
    expect(imageType('a.svg')).toBe('image/svg+xml');
    expect(previewKind('data/preds.csv')).toBe('csv');
    expect(previewKind('x.tsv')).toBe('csv');
    expect(previewKind('config.json')).toBe('json');
    expect(previewKind('train.log')).toBe('text');
    expect(previewKind('model.pkl')).toBe('none');
    expect(previewKind('.hidden')).toBe('none');
  });

  it('parse CSV with quotes, embedded commas and line breaks', () => {
    const { rows, truncated } = parseCsv('a,b\r\n"x, y","say ""hi"""\n"two\nlines",3\n');
    expect(rows).toEqual([
      ['a', 'b'],
      ['x, y', 'say "hi"'],
      ['two\nlines', '3']
    ]);
    expect(truncated).toBe(false);
    expect(parseCsv('a\tb\n1\t2', { delimiter: '\t' }).rows).toEqual([
      ['a', 'b'],
      ['1', '2']
    ]);
  });

  it('stop at maxRows and drop a cut last line', () => {
    const text = 'h\n' + Array.from({ length: 10 }, (_, i) => String(i)).join('\n') + '\n1';
    const few = parseCsv(text, { maxRows: 3 });
    expect(few.rows).toEqual([['h'], ['0'], ['1']]);
    expect(few.truncated).toBe(true);
    const cut = parseCsv('h\n1\n2\n3', { partial: true });
    expect(cut.rows).toEqual([['h'], ['1'], ['2']]);
    expect(cut.truncated).toBe(true);
  });

  it('pretty-print JSON, or say it is not JSON', () => {
    expect(prettyJson('{"a":[1,2]}')).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}');
    expect(prettyJson('{oops')).toBeNull();
  });
});
