import { compareValues, matchesText, RunsModel } from '../model';
import { IRunSummary } from '../tokens';
import { makeRun as run } from './helpers';

describe('compareValues', () => {
  it('puts missing values last in both directions', () => {
    expect(compareValues(null, 1, 'asc')).toBe(1);
    expect(compareValues(null, 1, 'desc')).toBe(1);
    expect(compareValues(1, undefined, 'desc')).toBe(-1);
    expect(compareValues(undefined, null)).toBe(0);
  });

  it('compares numeric strings as numbers and text naturally', () => {
    expect(compareValues('10', '9')).toBeGreaterThan(0);
    expect(compareValues('0.01', '0.1')).toBeLessThan(0);
    expect(compareValues('run 2', 'run 10')).toBeLessThan(0);
    expect(compareValues(2, 10, 'desc')).toBeGreaterThan(0);
  });
});

describe('matchesText', () => {
  it('matches like the server: name, notebook path, run id prefix', () => {
    const r = run({
      run_id: 'abcdef',
      name: 'SGD baseline',
      notebook_path: 'nbs/Train.ipynb',
      params: { opt: 'Adam' }
    });
    expect(matchesText(r, 'sgd')).toBe(true);
    expect(matchesText(r, 'train.ipynb')).toBe(true);
    expect(matchesText(r, 'ABC')).toBe(true);
    expect(matchesText(r, 'def')).toBe(false); // ids match by prefix only
    expect(matchesText(r, 'adam')).toBe(false); // params: use a filter expression
    expect(matchesText(r, '')).toBe(true);
  });
});

describe('RunsModel', () => {
  it('sorts newest first by default', () => {
    const m = new RunsModel();
    const a = run();
    const b = run();
    const c = run();
    m.setRuns([a, c, b]);
    expect(m.visibleRuns.map(r => r.run_id)).toEqual([c.run_id, b.run_id, a.run_id]);
  });

  it('breaks start-time ties by run id like the server (creation order)', () => {
    // run ids are time-ordered: a < b < c were created in that order, same millisecond
    const t = 1_700_000_000_000;
    const a = run({ run_id: '01a-a', start_time: t, metrics: { acc: 1 } });
    const b = run({ run_id: '01a-b', start_time: t, metrics: { acc: 1 } });
    const c = run({ run_id: '01a-c', start_time: t, metrics: { acc: 1 } });
    const model = new RunsModel();
    model.setRuns([b, a, c]);
    const ids = () => model.visibleRuns.map(r => r.run_id);
    expect(ids()).toEqual(['01a-c', '01a-b', '01a-a']); // newest first
    model.sort = { key: 'start_time', direction: 'asc' };
    expect(ids()).toEqual(['01a-a', '01a-b', '01a-c']);
    model.sort = { key: 'metrics.acc', direction: 'desc' };
    expect(ids()).toEqual(['01a-c', '01a-b', '01a-a']);
    model.sort = { key: 'metrics.acc', direction: 'asc' };
    expect(ids()).toEqual(['01a-c', '01a-b', '01a-a']);
  });

  it('sorts by a metric with missing values last, and toggles direction', () => {
    const m = new RunsModel();
    const a = run({ metrics: { acc: 0.5 } });
    const b = run({ metrics: { acc: 0.9 } });
    const c = run({ metrics: {} });
    const d = run({ metrics: { acc: null } });
    m.setRuns([a, b, c, d]);
    m.toggleSort('metrics.acc');
    expect(m.sort).toEqual({ key: 'metrics.acc', direction: 'desc' });
    expect(m.visibleRuns.map(r => r.run_id).slice(0, 2)).toEqual([b.run_id, a.run_id]);
    m.toggleSort('metrics.acc');
    expect(m.sort.direction).toBe('asc');
    expect(m.visibleRuns.map(r => r.run_id).slice(0, 2)).toEqual([a.run_id, b.run_id]);
    // missing ones stay at the end
    expect(
      m.visibleRuns
        .slice(2)
        .map(r => r.run_id)
        .sort()
    ).toEqual([c.run_id, d.run_id].sort());
  });

  it('sorts text columns ascending first and params numerically', () => {
    const m = new RunsModel();
    const a = run({ name: 'b', params: { lr: '0.1' } });
    const b = run({ name: 'a', params: { lr: '0.01' } });
    const c = run({ name: 'c', params: { lr: '1' } });
    m.setRuns([a, b, c]);
    m.toggleSort('name');
    expect(m.sort.direction).toBe('asc');
    expect(m.visibleRuns.map(r => r.name)).toEqual(['a', 'b', 'c']);
    m.toggleSort('params.lr');
    expect(m.visibleRuns.map(r => r.params.lr)).toEqual(['0.01', '0.1', '1']);
  });

  it('filters by free text and by status', () => {
    const m = new RunsModel();
    const a = run({ name: 'alpha', status: 'RUNNING', end_time: null });
    const b = run({ name: 'beta', status: 'FAILED' });
    m.setRuns([a, b]);
    m.query = 'alp';
    expect(m.visibleRuns).toEqual([a]);
    expect(m.serverSearch).toBe('alp');
    expect(m.serverFilter).toBeUndefined();
    m.query = '';
    m.statusFilter = 'FAILED';
    expect(m.visibleRuns).toEqual([b]);
  });

  it('filters with an MLflow expression', () => {
    const m = new RunsModel();
    const a = run({ metrics: { acc: 0.95 }, params: { lr: '0.1' }, tags: { team: 'x' } });
    const b = run({ metrics: { acc: 0.8 }, params: { lr: '0.1' } });
    const c = run({ metrics: { acc: 0.99 }, params: { lr: '0.2' }, name: 'sgd-3' });
    m.setRuns([a, b, c]);
    m.query = "metrics.acc > 0.9 and params.lr = '0.1'";
    expect(m.filterError).toBeNull();
    expect(m.visibleRuns).toEqual([a]);
    expect(m.serverFilter).toBe("metrics.acc > 0.9 and params.lr = '0.1'");
    m.query = "name LIKE 'sgd%'";
    expect(m.visibleRuns).toEqual([c]);
    m.query = "tags.team = 'x' and status = 'FINISHED'";
    expect(m.visibleRuns).toEqual([a]);
  });

  it('reports a filter syntax error and then filters nothing out', () => {
    const m = new RunsModel();
    m.setRuns([run(), run()]);
    m.query = 'metrics.acc >';
    expect(m.filterError).toMatch(/Expected/);
    expect(m.visibleRuns).toHaveLength(2);
    expect(m.serverFilter).toBeUndefined();
    m.query = "bogus.key = '1'";
    expect(m.filterError).toMatch(/Unknown key/);
  });

  it('filters by experiment and hides child runs on request', () => {
    const m = new RunsModel();
    const a = run({ experiment: 'e1' });
    const b = run({ experiment: 'e2' });
    const child = run({ experiment: 'e1', parent_run_id: a.run_id });
    m.setRuns([a, b, child]);
    m.experiment = 'e1';
    expect(m.visibleRuns.map(r => r.run_id).sort()).toEqual([a.run_id, child.run_id].sort());
    m.topLevelOnly = true;
    expect(m.visibleRuns).toEqual([a]);
  });

  it('merges live runs: new ones appear, stale updates are ignored', () => {
    const m = new RunsModel();
    const a = run({ status: 'RUNNING', end_time: null, last_update_time: 100 });
    m.setRuns([a], 1);
    const kinds: string[] = [];
    m.changed.connect((_, kind) => kinds.push(kind));

    const b = run({ last_update_time: 50 });
    expect(m.mergeRun(b)).toBe(true);
    expect(m.size).toBe(2);
    expect(m.total).toBe(2);

    const finished = { ...a, status: 'FINISHED' as const, end_time: 200, last_update_time: 200 };
    expect(m.mergeRun(finished)).toBe(true);
    expect(m.getRun(a.run_id)!.status).toBe('FINISHED');

    // an older event arriving late does not roll the run back
    const late = { ...a, status: 'RUNNING' as const, last_update_time: 150 };
    expect(m.mergeRun(late)).toBe(false);
    expect(m.getRun(a.run_id)!.status).toBe('FINISHED');
    expect(kinds).toEqual(['runs', 'runs']);
  });

  it('keeps filters and sort applied to merged runs', () => {
    const m = new RunsModel();
    m.setRuns([run({ metrics: { acc: 0.5 } })]);
    m.query = 'metrics.acc >= 0.9';
    expect(m.visibleRuns).toHaveLength(0);
    const good = run({ metrics: { acc: 0.95 } });
    m.mergeRuns([good, run({ metrics: { acc: 0.1 } })]);
    expect(m.visibleRuns).toEqual([good]);
  });

  it('tracks runs whose metrics went stale, visible ones first', () => {
    const m = new RunsModel();
    const a = run();
    const b = run();
    m.setRuns([a, b]);
    expect(m.applyMetricsEvent({ run_id: 'unknown', keys: ['x'], last_update_time: 1 })).toBe(
      false
    );
    expect(m.applyMetricsEvent({ run_id: a.run_id, keys: ['loss'], last_update_time: 1 })).toBe(
      true
    );
    m.applyMetricsEvent({ run_id: b.run_id, keys: ['loss'], last_update_time: 1 });
    expect(m.staleRuns.sort()).toEqual([a.run_id, b.run_id].sort());
    // b is newer, so it is first in the default sort
    expect(m.takeStaleRuns(1)).toEqual([b.run_id]);
    expect(m.staleRuns).toEqual([a.run_id]);
    // a fresh summary clears the stale mark
    m.mergeRun({ ...a, metrics: { loss: 0.1 }, last_update_time: a.last_update_time + 1 });
    expect(m.staleRuns).toEqual([]);
  });

  it('offers columns from the loaded runs and toggles them', () => {
    const m = new RunsModel();
    m.setRuns([
      run({
        params: { lr: '0.1', batch: '32' },
        metrics: { acc: 1 },
        tags: { team: 'x', 'mlops.source': 'cell' }
      }),
      run({ params: { lr: '0.2' }, metrics: { loss: 2 } })
    ]);
    expect(m.availableColumns).toEqual({
      params: ['params.batch', 'params.lr'],
      metrics: ['metrics.acc', 'metrics.loss'],
      tags: ['tags.team']
    });
    m.toggleColumn('metrics.acc');
    m.toggleColumn('param.lr'); // alias
    expect(m.columns).toEqual(['metrics.acc', 'params.lr']);
    expect(m.visibleColumns.map(c => c.key)).toEqual([
      'status',
      'name',
      'start_time',
      'duration',
      'metrics.acc',
      'params.lr'
    ]);
    expect(m.visibleColumns[4]).toEqual({ key: 'metrics.acc', label: 'acc', kind: 'metric' });
    m.toggleColumn('metrics.acc');
    expect(m.columns).toEqual(['params.lr']);
  });

  it('selects runs for comparison in selection order', () => {
    const m = new RunsModel();
    const a = run();
    const b = run();
    const c = run();
    m.setRuns([a, b, c]);
    expect(m.canCompare).toBe(false);
    m.toggleSelected(c.run_id);
    m.toggleSelected(a.run_id);
    expect(m.canCompare).toBe(true);
    expect(m.selectedIds).toEqual([c.run_id, a.run_id]);
    m.toggleSelected(c.run_id);
    expect(m.selectedIds).toEqual([a.run_id]);
    expect(m.canCompare).toBe(false);
    m.setSelected([a.run_id, b.run_id]);
    m.removeRuns([b.run_id]);
    expect(m.selectedIds).toEqual([a.run_id]);
    m.clearSelection();
    expect(m.selectedIds).toEqual([]);
  });

  it('sorts by duration with running runs counted up to now', () => {
    const now = 1_700_000_100_000;
    const m = new RunsModel({ now: () => now });
    const short = run({ start_time: now - 10_000, end_time: now - 9_000 });
    const running = run({ start_time: now - 60_000, end_time: null, status: 'RUNNING' });
    const long = run({ start_time: now - 50_000, end_time: now - 20_000 });
    m.setRuns([short, running, long]);
    m.toggleSort('duration');
    expect(m.visibleRuns.map(r => r.run_id)).toEqual([running.run_id, long.run_id, short.run_id]);
  });

  it('counts statuses of the visible runs and exposes order_by', () => {
    const m = new RunsModel();
    m.setRuns([run(), run({ status: 'FAILED' }), run({ status: 'FAILED' })]);
    expect(m.statusCounts).toEqual({ FINISHED: 1, FAILED: 2 });
    expect(m.serverOrderBy).toBe('start_time DESC');
    m.toggleSort('metrics.acc');
    expect(m.serverOrderBy).toBe('metrics.acc DESC');
  });

  it('filters and sorts 10 000 runs quickly', () => {
    const m = new RunsModel();
    const runs: IRunSummary[] = [];
    for (let i = 0; i < 10000; i++) {
      runs.push(
        run({
          name: `run-${i}`,
          params: { lr: String((i % 10) / 10) },
          metrics: { acc: ((i * 7919) % 1000) / 1000 }
        })
      );
    }
    const t0 = Date.now();
    m.setRuns(runs);
    m.toggleSort('metrics.acc');
    expect(m.visibleRuns).toHaveLength(10000);
    m.query = "params.lr = '0.5' and metrics.acc > 0.5";
    const visible = m.visibleRuns;
    expect(visible.length).toBeGreaterThan(0);
    expect(visible.every(r => r.params.lr === '0.5' && (r.metrics.acc as number) > 0.5)).toBe(true);
    m.query = 'run-99';
    expect(m.visibleRuns.length).toBeGreaterThan(0);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
