import * as React from 'react';
import { act } from 'react';
import { createRoot, Root } from 'react-dom/client';

import { MLOpsClient } from '../api';
import { LineChart } from '../components/LineChart';
import { FILTER_HELP, ROW_HEIGHT, RunsPanel } from '../components/RunsPanel';
import { parseFilter } from '../filter';
import { MLOpsController } from '../controller';
import { RunsModel } from '../model';
import { IRunSummary } from '../tokens';
import { fakeServer, makeRun } from './helpers';

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

function makeController(runs: IRunSummary[]) {
  const { settings } = fakeServer(() => ({ body: {} }));
  const model = new RunsModel();
  const controller = new MLOpsController({
    client: new MLOpsClient({ serverSettings: settings }),
    model
  });
  controller.configure({ liveUpdates: false, refreshIntervalSeconds: 0 });
  model.setRuns(runs);
  return { controller, model };
}

describe('RunsPanel', () => {
  it('renders only a window of 10 000 runs and follows scrolling', async () => {
    const runs = Array.from({ length: 10000 }, (_, i) =>
      makeRun({ name: `r-${i}`, status: i % 3 ? 'FINISHED' : 'FAILED' })
    );
    const { controller } = makeController(runs);
    const opened: string[] = [];
    await act(async () => {
      root.render(
        <RunsPanel
          controller={controller}
          onOpenRun={id => opened.push(id)}
          onCompare={() => void 0}
        />
      );
    });
    let rows = container.querySelectorAll('.jp-mlops-run-row');
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.length).toBeLessThan(100);
    const body = container.querySelector('.jp-mlops-runs-body') as HTMLElement;
    expect(body.style.height).toBe(`${10000 * ROW_HEIGHT}px`);
    expect(container.querySelector('.jp-mlops-count')!.getAttribute('data-count')).toBe('10000');
    expect(container.querySelectorAll('.jp-mlops-status-FAILED').length).toBeGreaterThan(0);

    const viewport = container.querySelector('.jp-mlops-runs-viewport') as HTMLElement;
    await act(async () => {
      viewport.scrollTop = 5000 * ROW_HEIGHT;
      viewport.dispatchEvent(new Event('scroll'));
      // The panel re-renders on the next animation frame: wait for it (and one more),
      // however slow the machine is.
      await new Promise(resolve => requestAnimationFrame(() => resolve(null)));
      await new Promise(resolve => requestAnimationFrame(() => resolve(null)));
    });
    rows = container.querySelectorAll('.jp-mlops-run-row');
    expect(rows.length).toBeLessThan(100);
    const ids = Array.from(rows).map(r => r.getAttribute('data-run-id'));
    const visibleIds = controller.model.visibleRuns.slice(4999, 5020).map(r => r.run_id);
    expect(ids).toEqual(expect.arrayContaining(visibleIds));

    await act(async () => {
      (rows[0] as HTMLElement).click();
    });
    expect(opened).toEqual([rows[0].getAttribute('data-run-id')]);
  });

  it('filters from the filter box and selects runs for compare', async () => {
    jest.useFakeTimers();
    const a = makeRun({ name: 'alpha-run', metrics: { acc: 0.95 } });
    const b = makeRun({ name: 'beta-run', metrics: { acc: 0.5 } });
    const { controller, model } = makeController([a, b]);
    const compared: string[][] = [];
    act(() => {
      root.render(
        <RunsPanel
          controller={controller}
          onOpenRun={() => void 0}
          onCompare={ids => compared.push(ids)}
        />
      );
    });
    const input = container.querySelector('.jp-mlops-filter') as HTMLInputElement;
    expect(input).not.toBeNull();
    const setValue = (value: string) => {
      const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!;
      setter.call(input, value);
      input.dispatchEvent(new Event('input', { bubbles: true }));
    };
    act(() => setValue('metrics.acc > 0.9'));
    act(() => {
      jest.advanceTimersByTime(200);
    });
    act(() => {
      jest.runOnlyPendingTimers();
    });
    expect(model.query).toBe('metrics.acc > 0.9');
    let rows = container.querySelectorAll('.jp-mlops-run-row');
    expect(Array.from(rows).map(r => r.getAttribute('data-run-id'))).toEqual([a.run_id]);

    act(() => setValue('metrics.acc >'));
    act(() => {
      jest.advanceTimersByTime(200);
    });
    act(() => {
      jest.runOnlyPendingTimers();
    });
    expect(container.querySelector('.jp-mlops-filter-error')).not.toBeNull();

    act(() => setValue(''));
    act(() => {
      jest.advanceTimersByTime(200);
    });
    act(() => {
      jest.runOnlyPendingTimers();
    });
    rows = container.querySelectorAll('.jp-mlops-run-row');
    expect(rows).toHaveLength(2);
    const compareButton = container.querySelector('.jp-mlops-compare-button') as HTMLButtonElement;
    expect(compareButton.disabled).toBe(true);
    act(() => {
      rows.forEach(r => (r.querySelector('input[type=checkbox]') as HTMLInputElement).click());
    });
    act(() => {
      jest.runOnlyPendingTimers();
    });
    expect(model.selectedIds).toHaveLength(2);
    expect(compareButton.disabled).toBe(false);
    act(() => compareButton.click());
    expect(compared).toHaveLength(1);
    expect(compared[0].sort()).toEqual([a.run_id, b.run_id].sort());
    jest.useRealTimers();
  });
});

describe('RunsPanel at the default sidebar width', () => {
  beforeAll(() => {
    Object.defineProperty(HTMLElement.prototype, 'clientWidth', {
      configurable: true,
      get(this: HTMLElement) {
        return this.classList.contains('jp-mlops-runs-viewport') ? 250 : 0;
      }
    });
  });
  afterAll(() => {
    // back to Element.prototype's getter
    delete (HTMLElement.prototype as any).clientWidth;
  });

  it('marks child runs (pipeline steps, nested runs)', async () => {
    const parent = makeRun({ name: 'pipeline' });
    const child = makeRun({ name: 'step-train', parent_run_id: parent.run_id });
    const { controller } = makeController([parent, child]);
    await act(async () => {
      root.render(
        <RunsPanel controller={controller} onOpenRun={() => void 0} onCompare={() => void 0} />
      );
    });
    const row = container.querySelector(
      `.jp-mlops-run-row[data-run-id="${child.run_id}"]`
    ) as HTMLElement;
    expect(row.querySelector('.jp-mlops-child-mark')).not.toBeNull();
    expect(row.title).toContain(`child of run ${parent.run_id}`);
    expect(row.querySelector('[data-column="name"]')!.textContent).toContain('step-train');
  });

  it('fits 250 px without a sideways scroll, with tooltips for what is cut', async () => {
    const run = makeRun({
      name: 'a-rather-long-run-name-that-cannot-fit-in-the-sidebar',
      metrics: { acc: 0.123456789 }
    });
    const { controller, model } = makeController([run]);
    await act(async () => {
      root.render(
        <RunsPanel controller={controller} onOpenRun={() => void 0} onCompare={() => void 0} />
      );
    });
    const header = container.querySelector('.jp-mlops-runs-header') as HTMLElement;
    expect(parseInt(header.style.minWidth, 10)).toBeLessThanOrEqual(250);
    const row = container.querySelector('.jp-mlops-run-row') as HTMLElement;
    const cols = Array.from(row.querySelectorAll('[data-column]')).map(c =>
      c.getAttribute('data-column')
    );
    expect(cols).toEqual(['status', 'name', 'start_time']);
    const name = row.querySelector('[data-column="name"]') as HTMLElement;
    expect(name.title).toBe(run.name);
    // what was left out is in the row's tooltip
    expect(row.title).toContain('Duration');
    expect(row.querySelector('.jp-mlops-child-mark')).toBeNull();

    // a chosen metric column is shown, with its full value as a tooltip
    await act(async () => {
      model.toggleColumn('metrics.acc');
    });
    const acc = container.querySelector(
      '.jp-mlops-run-row [data-column="metrics.acc"]'
    ) as HTMLElement;
    expect(acc).not.toBeNull();
    expect(acc.textContent).toBe('0.1235');
    expect(acc.title).toContain('0.123456789');
    const header2 = container.querySelector('.jp-mlops-runs-header') as HTMLElement;
    expect(parseInt(header2.style.minWidth, 10)).toBeLessThanOrEqual(250);

    // sorted by a narrow column: the arrow is outside the label that gets cut
    await act(async () => {
      model.toggleSort('metrics.acc');
    });
    const accHeader = container.querySelector(
      '.jp-mlops-header-cell[data-column="metrics.acc"]'
    ) as HTMLElement;
    const arrow = accHeader.querySelector(':scope > .jp-mlops-sort-arrow');
    expect(arrow).not.toBeNull();
    expect(['▲', '▼']).toContain(arrow!.textContent);
    expect(accHeader.querySelector('.jp-mlops-header-label')!.textContent).toBe('macc');
  });
});

describe('the filter box help', () => {
  it('gives examples that parse', () => {
    const examples = FILTER_HELP.split('\n')
      .filter(line => line.startsWith('  '))
      .flatMap(line => line.trim().split(/\s{3,}/));
    expect(examples.length).toBeGreaterThanOrEqual(6);
    for (const example of examples) {
      expect(() => parseFilter(example)).not.toThrow();
      expect(parseFilter(example).length).toBeGreaterThan(0);
    }
  });
});

describe('LineChart', () => {
  it('draws an svg with data-points', () => {
    act(() => {
      root.render(
        <LineChart
          title="loss"
          series={[
            { name: 'a', x: [0, 1, 2, 3], y: [1, 0.5, null, 0.2] },
            { name: 'b', x: [0, 1], y: [2, 1] }
          ]}
        />
      );
    });
    const svg = container.querySelector('svg.jp-mlops-chart')!;
    expect(svg.getAttribute('data-points')).toBe('6');
    expect(svg.querySelectorAll('path.jp-mlops-chart-line')).toHaveLength(2);
    expect(container.querySelectorAll('.jp-mlops-chart-legend-item')).toHaveLength(2);
  });
});
