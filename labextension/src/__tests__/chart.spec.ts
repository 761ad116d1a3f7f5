import {
  bandPath,
  clippedExtent,
  emaSmooth,
  extent,
  fixed1,
  LINE_TOLERANCE,
  linePath,
  nearestIndex,
  niceTicks,
  pointCount,
  rangeInView
} from '../chart';
import { formatBytes, formatDuration, formatNumber } from '../format';
import { scrollToRow, visibleWindow } from '../windowing';

describe('chart geometry', () => {
  it('computes extents of finite values', () => {
    expect(extent([3, null, 1, NaN, 2])).toEqual({ min: 1, max: 3 });
    expect(extent([null])).toBeNull();
    expect(extent([5, 5])).toEqual({ min: 4.5, max: 5.5 });
    expect(extent([0])).toEqual({ min: -1, max: 1 });
  });

  it('makes round ticks', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 97, 4)).toEqual([0, 20, 40, 60, 80]);
    expect(niceTicks(3, 3)).toEqual([3]);
  });

  it('breaks lines at missing values', () => {
    const id = (v: number) => v;
    expect(linePath([0, 1, 2, 3], [1, 2, null, 4], id, id)).toBe('M0.0,1.0L1.0,2.0M3.0,4.0');
    expect(linePath([], [], id, id)).toBe('');
  });

  it('writes path coordinates as fixed1 does, in paths longer than the first buffer', () => {
    // the text of the concatenating implementation the path writer replaced
    const reference = (x: number[], y: Array<number | null>) => {
      let d = '';
      let pen = false;
      for (let i = 0; i < x.length; i++) {
        const v = y[i];
        if (v === null || !Number.isFinite(v) || !Number.isFinite(x[i])) {
          pen = false;
          continue;
        }
        d += (pen ? 'L' : 'M') + fixed1(x[i]) + ',' + fixed1(v);
        pen = true;
      }
      return d;
    };
    const special = [0, -0, -0.04, 0.05, -0.05, 1.25, -1.25, 9.95, 1e14 + 0.3, -1e14, 1e15, 1e20];
    const x: number[] = [];
    const y: Array<number | null> = [];
    for (let i = 0; i < 5000; i++) {
      // x goes back and forth: no point lies between neighbours to be left out
      const back = i % 2 ? -1 : 1;
      x.push(i % 977 === 0 ? NaN : back * (((i * 7919.123) % 1000) + 1));
      y.push(i % 13 === 0 ? null : i % 101 === 0 ? Infinity : special[i % special.length] * 1.1);
    }
    y.push(-Infinity, NaN, -123456.789);
    x.push(1, 2, 3);
    const id = (v: number) => v;
    const d = linePath(x, y, id, id);
    expect(d.length).toBeGreaterThan(1 << 16);
    expect(d).toBe(reference(x, y));
    expect(linePath([0.04, -7.96, 2e21], [-0.04, 3, 1], id, id)).toBe(
      'M0.0,0.0L-8.0,3.0L2e+21,1.0'
    );
    // around the small-number fast path's bounds (below 10,000)
    const edges = [9999.94, -9999.96, 1234.56, 999.95, 100.04, 10.05, 9.96];
    expect(linePath([0, -1, 0, -1, 0, -1, 0], edges, id, id)).toBe(
      reference([0, -1, 0, -1, 0, -1, 0], edges)
    );
    expect(linePath([0, -1], [9999.94, -9999.96], id, id)).toBe('M0.0,9999.9L-1.0,-10000.0');
    // the writer is shared: a short path after a long one is only itself, also after a
    // path too long for the buffer to be kept
    const zigzagX = Array.from({ length: 120000 }, (_, i) => i);
    const zigzagY = zigzagX.map(i => (i % 2 ? 1 : -1) * i);
    const zigzag = linePath(zigzagX, zigzagY, id, id);
    expect(zigzag.slice(-28)).toBe('L119998.0,-119998.0L119999.0,119999.0'.slice(-28));
    expect(zigzag.split('L')).toHaveLength(120000);
    expect(linePath([1], [2], id, id)).toBe('M1.0,2.0');
    expect(bandPath([0, 1, NaN, 2], [0, -1.25, 0, 1], [1, 2, 3, 4], id, id)).toBe(
      'M0.0,1.0L1.0,2.0L2.0,4.0L2.0,1.0L1.0,-1.2L0.0,0.0Z'
    );
  });

  it('formats coordinates as toFixed(1) does, faster', () => {
    const values = [0, 0.04, -3.96, 9.94, 123456.76, 1e20, -7];
    for (let i = 0; i < 2000; i++) {
      values.push(((i * 7919.123) % 1000) - 300);
    }
    for (const v of values) {
      expect(fixed1(v)).toBe(v.toFixed(1));
    }
    // halves may round the other way (a tenth of a unit); no "-0.0"
    for (const v of [0.05, 0.15, 1.25, -1.25, 9.95]) {
      expect(Math.abs(Number(fixed1(v)) - Number(v.toFixed(1)))).toBeLessThan(0.11);
    }
    expect(fixed1(-0.04)).toBe('0.0');
    expect(fixed1(Infinity)).toBe('Infinity');
  });

  it('leaves out the points a line passes within LINE_TOLERANCE of, and only those', () => {
    const id = (v: number) => v;
    const parse = (d: string) =>
      d.split(/(?=[ML])/).map(c => ({
        move: c[0] === 'M',
        x: Number(c.slice(1).split(',')[0]),
        y: Number(c.slice(1).split(',')[1])
      }));
    // every input point lies within the tolerance (plus the rounding) of the drawn polyline
    const within = (d: string, x: number[], y: Array<number | null>) => {
      const drawn = parse(d);
      for (let i = 0; i < x.length; i++) {
        const v = y[i];
        if (v === null || !Number.isFinite(v)) {
          continue;
        }
        let best = Infinity;
        for (let k = 0; k < drawn.length; k++) {
          const a = drawn[k];
          const b = drawn[k + 1];
          if (b && !b.move && a.x <= x[i] && x[i] <= b.x) {
            const t = b.x === a.x ? 0 : (x[i] - a.x) / (b.x - a.x);
            best = Math.min(best, Math.abs(a.y + t * (b.y - a.y) - v));
          } else if (a.x === x[i]) {
            best = Math.min(best, Math.abs(a.y - v));
          }
        }
        expect(best).toBeLessThanOrEqual(LINE_TOLERANCE + 0.05 + 1e-9);
      }
    };
    // x at whole tenths (drawn unrounded), y rounded to them: 0.05 more at most
    const steps = Array.from({ length: 1000 }, (_, i) => i / 2);
    // a straight line: its two ends
    const straight = steps.map(v => 2 * v + 1);
    expect(linePath(steps, straight, id, id)).toBe('M0.0,1.0L499.5,1000.0');
    // a smooth decay: a fraction of its points, none further than the tolerance
    const decay = steps.map(v => 150 * Math.exp(-v / 90));
    const decayPath = linePath(steps, decay, id, id);
    expect(parse(decayPath).length).toBeLessThan(250);
    within(decayPath, steps, decay);
    // noise: every point
    const noisy = steps.map((_, i) => ((Math.sin(i * 12.9898) * 43758.5453) % 1) * 10);
    const noisyPath = linePath(steps, noisy, id, id);
    expect(parse(noisyPath).length).toBeGreaterThan(900);
    within(noisyPath, steps, noisy);
    // a break keeps the last point before it and the first after it
    expect(linePath([0, 1, 2, 3, 4, 5, 6], [0, 1, 2, null, 4, 5, 6], id, id)).toBe(
      'M0.0,0.0L2.0,2.0M4.0,4.0L6.0,6.0'
    );
    // a lone point, a point on the turn, x going back: drawn
    expect(linePath([0, 1, 2, 3], [0, 1, 2, 0], id, id)).toBe('M0.0,0.0L2.0,2.0L3.0,0.0');
    expect(linePath([0, 1, 2, 1, 0], [0, 1, 2, 3, 4], id, id)).toBe(
      'M0.0,0.0L2.0,2.0L1.0,3.0L0.0,4.0'
    );
    expect(linePath([0, 1, 2], [null, 5, null], id, id)).toBe('M1.0,5.0');
  });

  it('finds the y range of the values in view, as extent/clippedExtent of them', () => {
    const xs = [
      [0, 1, 2, 3],
      [0, 2, 4]
    ];
    const ys: Array<Array<number | null>> = [
      [5, null, -1, NaN],
      [2, Infinity, 9]
    ];
    expect(rangeInView(xs, ys, 0, 4, false)).toEqual({ min: -1, max: 9 });
    expect(rangeInView(xs, ys, 0, 1, false)).toEqual({ min: 2, max: 5 });
    expect(rangeInView(xs, ys, 3, 3, false)).toBeNull();
    expect(rangeInView(xs, ys, 0, 0, false)).toEqual(extent([5, 2]));
    // bands count whatever their x
    expect(
      rangeInView(xs, ys, 0, 1, false, [
        [-10, NaN],
        [Infinity, 20]
      ])
    ).toEqual({
      min: -10,
      max: 20
    });
    const many = Array.from({ length: 40 }, (_, i) => (i === 39 ? 1e6 : i));
    const x40 = many.map((_, i) => i);
    expect(rangeInView([x40], [many], 0, 39, true)).toEqual(clippedExtent(many));
    expect(rangeInView([x40], [many], 0, 39, false)).toEqual({ min: 0, max: 1e6 });
  });

  it('smooths like an exponential moving average debiased at the start', () => {
    const y = [1, null, 3, 2, NaN, 4];
    const w = 0.6;
    const out = emaSmooth(y, w);
    let last = 0;
    let n = 0;
    y.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) {
        expect(out[i]).toBeNull();
        return;
      }
      last = last * w + (1 - w) * v;
      n++;
      expect(out[i]).toBeCloseTo(last / (1 - Math.pow(w, n)), 12);
    });
    expect(emaSmooth(y, 0)).toBe(y);
  });

  it('finds the nearest x and counts points', () => {
    expect(nearestIndex([0, 10, 20], 14)).toBe(1);
    expect(nearestIndex([0, 10, 20], 16)).toBe(2);
    expect(nearestIndex([0, 10, 20], -5)).toBe(0);
    expect(nearestIndex([], 1)).toBe(-1);
    expect(
      pointCount([
        { name: 'a', x: [1, 2], y: [1, 2] },
        { name: 'b', x: [1], y: [null] }
      ])
    ).toBe(3);
  });
});

describe('windowing', () => {
  it('renders only the visible rows plus overscan', () => {
    const w = visibleWindow(28 * 5000, 560, 28, 10000, 8);
    expect(w.totalHeight).toBe(280000);
    expect(w.start).toBe(4992);
    expect(w.end).toBe(5028);
    expect(w.end - w.start).toBeLessThan(60);
  });

  it('clamps at both ends and handles an unmeasured viewport', () => {
    expect(visibleWindow(0, 100, 28, 3)).toEqual({ start: 0, end: 3, totalHeight: 84 });
    expect(visibleWindow(-50, 100, 28, 0)).toEqual({ start: 0, end: 0, totalHeight: 0 });
    const unmeasured = visibleWindow(0, 0, 28, 10000);
    expect(unmeasured.end).toBeGreaterThan(0);
    expect(unmeasured.end).toBeLessThan(100);
    const bottom = visibleWindow(28 * 10000, 560, 28, 10000);
    expect(bottom.end).toBe(10000);
  });

  it('scrolls a row into view', () => {
    expect(scrollToRow(0, 100, 280, 28)).toBe(0);
    expect(scrollToRow(5, 0, 280, 28)).toBe(0);
    expect(scrollToRow(20, 0, 280, 28)).toBe(21 * 28 - 280);
  });
});

describe('format', () => {
  it('formats durations, numbers and sizes', () => {
    expect(formatDuration(120)).toBe('120 ms');
    expect(formatDuration(1500)).toBe('1.5 s');
    expect(formatDuration(65_000)).toBe('1 min 5 s');
    expect(formatDuration(3_600_000 * 2 + 60_000)).toBe('2 h 1 min');
    expect(formatDuration(null)).toBe('');
    expect(formatNumber(0.123456)).toBe('0.1235');
    expect(formatNumber(42)).toBe('42');
    expect(formatNumber(1e-7)).toBe('1.000e-7');
    expect(formatNumber(Infinity)).toBe('∞');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(5 * 1024 * 1024)).toBe('5.0 MB');
  });
});
