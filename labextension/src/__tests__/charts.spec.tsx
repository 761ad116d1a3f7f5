/**
 * Chart controls: smoothing (debiased EMA, raw curve kept faint), log y,
 * outlier clipping, x by step / wall / relative time, a single value shown
 * as a value, a bounded legend, synced hover, drag to zoom.
 */
import * as React from 'react';
import { act } from 'react';
import { createRoot, Root } from 'react-dom/client';

import {
  clippedExtent,
  DEFAULT_CHART_OPTIONS,
  emaSmooth,
  isSingleValue,
  logScale,
  logTicks,
  xValues
} from '../chart';
import { ChartSync, LineChart } from '../components/LineChart';

(globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;

let container: HTMLDivElement;
let root: Root;

beforeEach(() => {
  container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

describe('chart geometry', () => {
  it('smooths like TensorBoard: debiased, gaps kept', () => {
    expect(emaSmooth([1, 2, 3], 0)).toEqual([1, 2, 3]);
    const s = emaSmooth([1, 1, null, 1, 3], 0.5) as number[];
    expect(s[0]).toBeCloseTo(1); // debiased: the first point is itself
    expect(s[1]).toBeCloseTo(1);
    expect(s[2]).toBeNull();
    expect(s[4]).toBeGreaterThan(1);
    expect(s[4]).toBeLessThan(3);
  });

  it('clips outliers to the bulk of the values', () => {
    const values = [...Array.from({ length: 100 }, (_, i) => i / 100), 1e9];
    const e = clippedExtent(values)!;
    expect(e.max).toBeLessThan(2);
    expect(e.min).toBeGreaterThanOrEqual(0);
    expect(clippedExtent([1, 2])).toEqual({ min: 1, max: 2 }); // few: the extent
  });

  it('has log scales and ticks', () => {
    const s = logScale({ min: 1, max: 1000 }, [0, 300]);
    expect(s(1)).toBeCloseTo(0);
    expect(s(10)).toBeCloseTo(100);
    expect(s(1000)).toBeCloseTo(300);
    expect(logTicks(0.001, 10)).toEqual([0.001, 0.01, 0.1, 1, 10]);
    expect(logTicks(2, 5).every(t => t >= 2 && t <= 5)).toBe(true);
  });

  it('maps the x axis to steps, wall time or seconds since the start', () => {
    expect(xValues([0, 5], [1000, 3000], 'step')).toEqual([0, 5]);
    expect(xValues([0, 5], [1000, 3000], 'wall')).toEqual([1000, 3000]);
    expect(xValues([0, 5], [1000, 3000], 'relative')).toEqual([0, 2]);
    expect(xValues([0, 5], undefined, 'relative')).toEqual([0, 5]);
  });

  it('tells a single value from a curve', () => {
    expect(isSingleValue([{ name: 'a', x: [0], y: [0.5] }])).toBe(true);
    expect(isSingleValue([{ name: 'a', x: [0, 1], y: [0.5, null] }])).toBe(true);
    expect(isSingleValue([{ name: 'a', x: [0, 1], y: [0.5, 0.6] }])).toBe(false);
    expect(isSingleValue([{ name: 'a', x: [], y: [] }])).toBe(false);
  });
});

describe('LineChart controls', () => {
  const curve = {
    name: 'loss',
    x: [0, 1, 2, 3, 4],
    y: [1, 0.5, 0.8, 0.2, 0.4],
    t: [0, 1000, 2000, 3000, 4000]
  };

  it('keeps the raw curve faint under the smoothed one', () => {
    act(() => {
      root.render(
        <LineChart
          title="loss"
          series={[curve]}
          options={{ ...DEFAULT_CHART_OPTIONS, smoothing: 0.6 }}
        />
      );
    });
    expect(container.querySelectorAll('path.jp-mlops-chart-raw')).toHaveLength(1);
    const line = container.querySelector('path.jp-mlops-chart-line')!;
    const raw = container.querySelector('path.jp-mlops-chart-raw')!;
    expect(line.getAttribute('d')).not.toEqual(raw.getAttribute('d'));
  });

  it('draws on a log axis and says when nothing can be drawn', () => {
    act(() => {
      root.render(
        <LineChart
          title="loss"
          series={[curve]}
          options={{ ...DEFAULT_CHART_OPTIONS, logY: true }}
        />
      );
    });
    const svg = container.querySelector('svg.jp-mlops-chart')!;
    expect(svg.getAttribute('data-log-y')).toBe('true');
    const ticks = Array.from(svg.querySelectorAll('.jp-mlops-chart-tick text')).map(
      t => t.textContent
    );
    expect(ticks).toContain('1');
    act(() => {
      root.render(
        <LineChart
          title="loss"
          series={[{ name: 'neg', x: [0, 1], y: [-1, -2] }]}
          options={{ ...DEFAULT_CHART_OPTIONS, logY: true }}
        />
      );
    });
    expect(container.textContent).toContain('no positive values');
  });

  it('shows a metric logged once as its value', () => {
    act(() => {
      root.render(
        <LineChart title="acc" metricKey="acc" series={[{ name: 'acc', x: [0], y: [0.75] }]} />
      );
    });
    expect(container.querySelector('svg')).toBeNull();
    const single = container.querySelector('.jp-mlops-single-value')!;
    expect(single.getAttribute('data-metric')).toBe('acc');
    expect(single.querySelector('.jp-mlops-single-value-number')!.textContent).toBe('0.75');
  });

  it('bounds the legend', () => {
    const many = Array.from({ length: 30 }, (_, i) => ({
      name: `run ${i}`,
      x: [0, 1],
      y: [i, i + 1]
    }));
    act(() => {
      root.render(<LineChart title="m" series={many} />);
    });
    expect(container.querySelectorAll('.jp-mlops-chart-legend-item')).toHaveLength(12);
    expect(container.querySelector('.jp-mlops-chart-legend-more')!.textContent).toBe('+18 more');
  });

  it('shares the hover between the charts of a view', () => {
    act(() => {
      root.render(
        <ChartSync axis="step">
          <LineChart title="a" series={[curve]} />
          <LineChart title="b" series={[{ ...curve, name: 'acc' }]} />
        </ChartSync>
      );
    });
    const [first, second] = Array.from(container.querySelectorAll('svg'));
    first.getBoundingClientRect = () =>
      ({ left: 0, top: 0, width: 420, height: 200, right: 420, bottom: 200 }) as DOMRect;
    act(() => {
      first.dispatchEvent(
        new MouseEvent('mousemove', { bubbles: true, clientX: 200, clientY: 50 })
      );
    });
    expect(first.querySelector('.jp-mlops-chart-tooltip')).not.toBeNull();
    expect(second.querySelector('.jp-mlops-chart-tooltip')).not.toBeNull();
  });

  it('zooms into the x range dragged across, and resets on double-click', () => {
    act(() => {
      root.render(<LineChart title="a" series={[curve]} />);
    });
    const svg = container.querySelector('svg')!;
    svg.getBoundingClientRect = () =>
      ({ left: 0, top: 0, width: 420, height: 200, right: 420, bottom: 200 }) as DOMRect;
    for (const [type, clientX] of [
      ['mousedown', 60],
      ['mousemove', 250],
      ['mouseup', 250]
    ] as Array<[string, number]>) {
      act(() => {
        svg.dispatchEvent(new MouseEvent(type, { bubbles: true, clientX, button: 0 }));
      });
    }
    expect(svg.getAttribute('data-zoomed')).toBe('true');
    expect(container.querySelector('.jp-mlops-chart-unzoom')).not.toBeNull();
    act(() => {
      svg.dispatchEvent(new MouseEvent('dblclick', { bubbles: true }));
    });
    expect(svg.getAttribute('data-zoomed')).toBe('false');
  });
});
