/**
 * Sweep analysis: dimensions, brushing, parameter importance, colours and
 * grouped curves; the brush filtering the runs list.
 */
import {
  brushed,
  column,
  columnPositions,
  dimension,
  groupCurves,
  importance,
  metricKeys,
  position,
  positions,
  rampColor,
  rampColorStep,
  ranks,
  rawValue,
  varyingParams
} from '../sweep';
import { colorRuns } from '../components/Sweep';
import { RunsModel } from '../model';
import { makeRun } from './helpers';

function sweep(n = 60) {
  return Array.from({ length: n }, (_, i) => {
    const lr = [0.1, 0.01, 0.001][i % 3];
    const opt = ['sgd', 'adam'][i % 2];
    return makeRun({
      params: { lr: String(lr), opt, seed: String(i), fixed: '1' },
      // acc depends on lr strongly, on the optimizer a bit, not on the seed
      metrics: { acc: 0.9 - Math.log10(lr) * -0.1 + (opt === 'adam' ? 0.01 : 0) }
    });
  });
}

describe('dimensions', () => {
  it('are numeric (log when spanning decades) or categorical', () => {
    const runs = sweep();
    const lr = dimension(runs, 'params.lr');
    expect([lr.kind, lr.log, lr.min, lr.max]).toEqual(['numeric', true, 0.001, 0.1]);
    expect(position(lr, '0.01')).toBeCloseTo(0.5);
    const opt = dimension(runs, 'params.opt');
    expect(opt.kind).toBe('categorical');
    expect(opt.categories).toEqual(['adam', 'sgd']);
    expect(position(opt, 'sgd')).toBe(1);
    expect(varyingParams(runs)).toEqual(['params.lr', 'params.opt', 'params.seed']);
    expect(metricKeys(runs)).toEqual(['metrics.acc']);
  });

  it('fold rare categories into "other"', () => {
    const runs = Array.from({ length: 40 }, (_, i) => makeRun({ params: { id: `x${i}` } }));
    const dim = dimension(runs, 'params.id');
    expect(dim.categories).toHaveLength(24);
    expect(dim.categories[23]).toBe('(other)');
    expect(position(dim, 'x39')).not.toBeNull();
  });
});

describe('brushing', () => {
  it('keeps the runs inside every brush', () => {
    const runs = sweep();
    const dims = ['params.lr', 'params.opt', 'metrics.acc'].map(k => dimension(runs, k));
    const pos = positions(runs, dims);
    expect(brushed(pos, runs.length, dims, [])).toHaveLength(60);
    const small = brushed(pos, runs.length, dims, [{ key: 'params.lr', lo: 0, hi: 0.1 }]);
    expect(small.every(i => runs[i].params.lr === '0.001')).toBe(true);
    const both = brushed(pos, runs.length, dims, [
      { key: 'params.lr', lo: 0, hi: 0.1 },
      { key: 'params.opt', lo: 0.9, hi: 1 }
    ]);
    expect(both.length).toBe(10);
    expect(both.every(i => runs[i].params.opt === 'sgd')).toBe(true);
  });

  it('filters the runs list, on top of the other filters', () => {
    const model = new RunsModel();
    const runs = sweep(10);
    model.setRuns(runs);
    model.setBrushed([runs[0].run_id, runs[1].run_id], 'lr 0.1');
    expect(model.matchingRuns).toHaveLength(2);
    expect(model.sweepRuns).toHaveLength(10); // the sweep keeps seeing every run
    expect(model.brushLabel).toBe('lr 0.1');
    model.setBrushed(null);
    expect(model.matchingRuns).toHaveLength(10);
    // lifting no brush changes nothing: no signal, the list is not recomputed
    const kinds: string[] = [];
    model.changed.connect((_, kind) => kinds.push(kind));
    const visible = model.visibleRuns;
    model.setBrushed(null);
    expect(kinds).toEqual([]);
    expect(model.visibleRuns).toBe(visible);
  });
});

describe('parameter importance', () => {
  it('ranks the param that drives the metric first, the noise last', () => {
    const runs = sweep();
    const rows = importance(runs, ['params.seed', 'params.opt', 'params.lr'], 'metrics.acc');
    expect(rows.map(r => r.key)).toEqual(['params.lr', 'params.opt', 'params.seed']);
    expect(rows[0].correlation!).toBeGreaterThan(0.95);
    expect(rows[0].explained!).toBeGreaterThan(0.9);
    expect(rows[1].correlation).toBeNull(); // categorical: eta² only
    expect(rows[1].explained!).toBeGreaterThan(0);
  });
});

describe('colours', () => {
  it('ramps numbers and bounds the categorical legend', () => {
    expect(rampColor(0)).toBe('rgb(68, 1, 84)');
    expect(rampColor(1)).toBe('rgb(253, 231, 37)');
    const runs = Array.from({ length: 30 }, (_, i) => makeRun({ params: { arch: `net${i}` } }));
    const coloring = colorRuns(runs, 'params.arch');
    expect(coloring.legend).toHaveLength(11); // 10 colours and "+N other"
    expect(coloring.legend[10].label).toMatch(/other/);
    expect(colorRuns(sweep(), 'metrics.acc').ramp).not.toBeNull();
  });
});

describe('grouped curves', () => {
  it('averages each group with a min-max or std band', () => {
    const curves = [
      { group: '0.1', x: [0, 1], y: [1, 3] },
      { group: '0.1', x: [0, 1], y: [3, 5] },
      { group: '0.01', x: [0, 1], y: [2, null] }
    ];
    const minmax = groupCurves(curves, 'minmax');
    expect(minmax.map(g => g.value)).toEqual(['0.01', '0.1']);
    const g = minmax[1];
    expect([g.runs, g.mean, g.lo, g.hi]).toEqual([2, [2, 4], [1, 3], [3, 5]]);
    expect(minmax[0].x).toEqual([0]); // a missing value is no point
    const std = groupCurves(curves, 'std')[1];
    expect(std.lo).toEqual([1, 3]);
    expect(std.hi).toEqual([3, 5]);
  });
});

describe('columns (each key parsed once per runs array)', () => {
  it('read values as rawValue/numericValue do, and positions as position does', () => {
    const runs = [
      ...sweep(12),
      makeRun({ params: { lr: 'n/a', opt: 'sgd' }, metrics: { acc: NaN } }),
      makeRun({ params: {}, metrics: {} })
    ];
    for (const key of ['params.lr', 'params.opt', 'params.seed', 'metrics.acc', 'params.none']) {
      const col = column(runs, key);
      expect(column(runs, key)).toBe(col); // cached
      expect(col.raw).toEqual(runs.map(r => rawValue(r, key)));
      const dim = dimension(runs, key);
      const pos = columnPositions(runs, dim);
      runs.forEach((r, i) => {
        const p = position(dim, rawValue(r, key));
        if (p === null) {
          expect(pos[i]).toBeNaN();
        } else {
          expect(pos[i]).toBeCloseTo(p, 12);
        }
      });
    }
    expect(dimension(runs, 'params.lr').kind).toBe('categorical'); // 'n/a'
    expect(dimension(runs, 'params.seed').kind).toBe('numeric');
    expect(column(runs, 'metrics.acc').num[12]).toBeNaN();
    // another array of the same runs is read afresh
    expect(column([...runs].reverse(), 'params.seed').raw[0]).toBeNull();
  });

  it('rank with ties sharing their mean rank', () => {
    expect(Array.from(ranks([30, 10, 20, 10]))).toEqual([3, 0.5, 2, 0.5]);
    expect(Array.from(ranks([]))).toEqual([]);
  });

  it('ramp colours in steps that look the same', () => {
    expect(rampColorStep(0)).toBe(rampColor(0));
    expect(rampColorStep(1)).toBe(rampColor(1));
    expect(rampColorStep(2)).toBe(rampColor(1));
    expect(rampColorStep(0.5)).toBe(rampColor(0.5));
    const channels = (c: string) => c.match(/\d+/g)!.map(Number);
    for (let t = 0; t <= 1; t += 0.0137) {
      const a = channels(rampColorStep(t));
      const b = channels(rampColor(t));
      a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThanOrEqual(1));
    }
  });

  it('importance gives the same numbers as a direct computation', () => {
    const runs = sweep(90);
    const rows = importance(runs, ['params.lr'], 'metrics.acc');
    const xs = runs.map(r => Math.log10(Number(r.params.lr)));
    const ys = runs.map(r => r.metrics.acc as number);
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const mx = mean(xs);
    const my = mean(ys);
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    xs.forEach((x, i) => {
      sxy += (x - mx) * (ys[i] - my);
      sxx += (x - mx) ** 2;
      syy += (ys[i] - my) ** 2;
    });
    expect(rows[0].correlation!).toBeCloseTo(sxy / Math.sqrt(sxx * syy), 10);
    expect(rows[0].runs).toBe(90);
  });
});
