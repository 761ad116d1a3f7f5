/**
 * The runs table: parent and child runs as a tree, columns the filter and
 * the sort bring in, key completion in the filter box, numbers aligned on
 * the decimal point.
 */
import { completeKey, quoteKey } from '../complete';
import { splitDecimal } from '../format';
import { RunsModel } from '../model';
import { makeRun } from './helpers';

describe('parent and child runs as a tree', () => {
  function tree() {
    const model = new RunsModel();
    const parent = makeRun({ name: 'cv', start_time: 1000 });
    const folds = [1, 2, 3].map(i =>
      makeRun({
        name: `fold-${i}`,
        parent_run_id: parent.run_id,
        start_time: 1000 + i,
        metrics: { acc: i / 10 }
      })
    );
    const other = makeRun({ name: 'other', start_time: 5000 });
    const orphan = makeRun({ name: 'orphan', parent_run_id: 'gone', start_time: 3000 });
    model.setRuns([...folds, parent, other, orphan]);
    return { model, parent, folds };
  }

  it('lists each child under its parent, in the sort order', () => {
    const { model, parent } = tree();
    expect(model.visibleRuns.map(r => r.name)).toEqual([
      'other',
      'orphan',
      'cv',
      'fold-3',
      'fold-2',
      'fold-1'
    ]);
    expect(model.depth(parent.run_id)).toBe(0);
    expect(model.childCount(parent.run_id)).toBe(3);
    model.sort = { key: 'metrics.acc', direction: 'asc' };
    // children follow the sort too; runs without the metric come last
    expect(model.visibleRuns.map(r => r.name).slice(-4)).toEqual([
      'cv',
      'fold-1',
      'fold-2',
      'fold-3'
    ]);
  });

  it('collapses, while counts and "select all" still cover the hidden children', () => {
    const { model, parent, folds } = tree();
    model.toggleCollapsed(parent.run_id);
    expect(model.visibleRuns.map(r => r.name)).toEqual(['other', 'orphan', 'cv']);
    expect(model.matchingRuns).toHaveLength(6);
    model.selectAllVisible();
    expect(model.selectedIds).toEqual(expect.arrayContaining(folds.map(f => f.run_id)));
    model.toggleCollapsed(parent.run_id);
    expect(model.visibleRuns).toHaveLength(6);
  });

  it('shows a child whose parent is filtered out at the top level', () => {
    const { model, folds } = tree();
    model.query = 'metrics.acc > 0.15';
    expect(model.visibleRuns.map(r => r.name)).toEqual(['fold-3', 'fold-2']);
    expect(model.depth(folds[2].run_id)).toBe(0);
  });

  it('can be a flat list, and survives a parent cycle in bad data', () => {
    const model = new RunsModel();
    const a = makeRun({ name: 'a', run_id: 'a', parent_run_id: 'b' });
    const b = makeRun({ name: 'b', run_id: 'b', parent_run_id: 'a' });
    model.setRuns([a, b]);
    expect(model.visibleRuns.map(r => r.name).sort()).toEqual(['a', 'b']);
    model.treeView = false;
    expect(model.visibleRuns).toHaveLength(2);
  });
});

describe('columns the filter and the sort bring in', () => {
  it('shows params, metrics and tags the filter or the sort names', () => {
    const model = new RunsModel({ columns: ['metrics.acc'] });
    model.setRuns([makeRun({ params: { lr: '0.1' } })]);
    model.query = "params.lr < 0.5 and metrics.acc > 0 and status = 'FINISHED'";
    model.sort = { key: 'tags.team', direction: 'asc' };
    expect(model.autoColumns).toEqual(['params.lr', 'tags.team']);
    const shown = model.visibleColumns.filter(c => c.auto).map(c => c.key);
    expect(shown).toEqual(['params.lr', 'tags.team']);
    expect(model.extraColumns).toEqual(['metrics.acc', 'params.lr', 'tags.team']);
    model.query = '';
    model.sort = { key: 'start_time', direction: 'desc' };
    expect(model.autoColumns).toEqual([]);
    expect(model.columns).toEqual(['metrics.acc']); // the user's choice is untouched
  });
});

describe('key completion in the filter box', () => {
  const keys = ['params.lr', 'params.layers', 'metrics.acc', 'metrics.val loss', 'tags.team'];

  it('suggests keys where a key goes', () => {
    const c = completeKey('par', 3, keys)!;
    expect(c.suggestions).toEqual(['parent_run_id', 'params.lr', 'params.layers']);
    expect([c.from, c.to]).toEqual([0, 3]);
    const after = 'metrics.acc > 0.9 and params.l';
    const d = completeKey(after, after.length, keys)!;
    expect(d.suggestions).toEqual(['params.lr', 'params.layers']);
    expect(d.from).toBe(after.length - 'params.l'.length);
    expect(completeKey('metrics.v', 9, keys)!.suggestions).toEqual(['metrics.`val loss`']);
  });

  it('stays quiet where a value or an operator goes', () => {
    expect(completeKey('metrics.acc > pa', 16, keys)).toBeNull();
    expect(completeKey("params.lr = 'par", 16, keys)).toBeNull();
    expect(completeKey('metrics.acc', 11, keys)).toBeNull(); // complete already
    expect(completeKey('', 0, keys)).toBeNull();
  });

  it('quotes names the syntax cannot write bare', () => {
    expect(quoteKey('metrics.val loss')).toBe('metrics.`val loss`');
    expect(quoteKey('params.lr')).toBe('params.lr');
    expect(quoteKey('status')).toBe('status');
  });
});

describe('numbers aligned on the decimal point', () => {
  it('splits a number where it aligns', () => {
    expect(splitDecimal('12.5')).toEqual(['12', '.5']);
    expect(splitDecimal('3')).toEqual(['3', '']);
    expect(splitDecimal('-0.25')).toEqual(['-0', '.25']);
    expect(splitDecimal('1.2e-5')).toEqual(['1', '.2e-5']);
    expect(splitDecimal('1e-5')).toEqual(['1', 'e-5']);
    expect(splitDecimal('.5')).toEqual(['', '.5']);
    expect(splitDecimal('sgd')).toBeNull();
    expect(splitDecimal('')).toBeNull();
    expect(splitDecimal('-')).toBeNull();
  });
});
