/**
 * Sweep views of many runs (the runs selected in the sidebar, else those
 * its filters match): parallel coordinates of params and a metric, with
 * brushing that filters the sidebar's list; a param-vs-metric scatter;
 * colour by a param with a bounded legend; curves grouped by a param (mean
 * and a min-max or standard-deviation band); a parameter-importance table.
 *
 * Lines and points are drawn on canvases (10 000 runs stay fast); axes,
 * labels and brushes are SVG on top.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { ISeries, PALETTE } from '../chart';
import { MLOpsController } from '../controller';
import { formatNumber } from '../format';
import {
  BandKind,
  brushed,
  columnPositions,
  dimension,
  groupCurves,
  IBrush,
  IDimension,
  importance,
  metricKeys,
  numericValue,
  OTHER,
  positions,
  rampColorStep,
  rawValue,
  valueAt,
  varyingParams
} from '../sweep';
import { IMetricHistory, IRunSummary } from '../tokens';
import { useSignalRender } from './hooks';
import { ChartControls, LineChart, useChartOptions } from './LineChart';

export interface ISweepProps {
  controller: MLOpsController;
  /** Fixed runs (the selection when the view opened); else the sidebar's filtered runs. */
  runIds: string[] | null;
  onOpenRun: (runId: string) => void;
}

/** Axes of the parallel coordinates: this many params, then the metric. */
const MAX_PARAM_AXES = 7;
/** Colours of a categorical colour-by param before "other". */
const MAX_LEGEND = 10;
/** Runs whose history the grouped curves load. */
const GROUP_MAX_RUNS = 120;
const GROUP_MAX_POINTS = 200;

/** How each run is coloured: by a metric/param value (ramp) or a category. */
export interface IColoring {
  colors: string[];
  legend: Array<{ label: string; color: string }>;
  ramp: { min: string; max: string } | null;
}

export function colorRuns(runs: IRunSummary[], key: string): IColoring {
  const dim = dimension(runs, key);
  if (dim.kind === 'numeric') {
    const pos = columnPositions(runs, dim);
    return {
      colors: Array.from(pos, p =>
        Number.isNaN(p) ? '#999999' : rampColorStep(p)
      ),
      legend: [],
      ramp: { min: formatNumber(dim.min), max: formatNumber(dim.max) }
    };
  }
  const shown = dim.categories.filter(c => c !== OTHER).slice(0, MAX_LEGEND);
  const colorOf = new Map(
    shown.map((c, i) => [c, PALETTE[i % PALETTE.length]])
  );
  const legend = shown.map(c => ({ label: c, color: colorOf.get(c)! }));
  const rest = dim.categories.length - shown.length;
  if (rest > 0) {
    legend.push({ label: `+${rest} other`, color: '#999999' });
  }
  return {
    colors: runs.map(r => colorOf.get(String(rawValue(r, key))) ?? '#999999'),
    legend,
    ramp: null
  };
}

/** A brush as the sidebar names it: "lr 0.001–0.01", or the key of a categorical axis. */
function brushLabel(brush: IBrush, dims: IDimension[]): string {
  const dim = dims.find(d => d.key === brush.key);
  if (!dim) {
    return brush.key;
  }
  const at = (p: number) =>
    formatNumber(Number(valueAt(dim, p).toPrecision(3)));
  return dim.kind === 'numeric'
    ? `${dim.label} ${at(brush.lo)}–${at(brush.hi)}`
    : dim.label;
}

/**
 * Ticks of an axis at positions 0..1: a numeric axis at `stops`, a category
 * axis at its categories (every k-th one past `maxLabels`).
 */
function axisTicks(
  dim: IDimension,
  stops: number[],
  maxLabels: number
): Array<{ p: number; label: string }> {
  if (dim.kind === 'numeric') {
    return stops.map(p => ({
      p,
      label: formatNumber(Number(valueAt(dim, p).toPrecision(3)))
    }));
  }
  const n = dim.categories.length;
  return dim.categories
    .map((c, i) => ({ p: n === 1 ? 0.5 : i / (n - 1), label: c }))
    .filter(
      (_, i, all) =>
        all.length <= maxLabels || i % Math.ceil(all.length / maxLabels) === 0
    );
}

const PC_MARGIN = { top: 28, bottom: 22, left: 40, right: 40 };

function ParallelCoordinates(props: {
  runs: IRunSummary[];
  dims: IDimension[];
  colors: string[];
  brushes: IBrush[];
  onBrushes: (brushes: IBrush[]) => void;
  inside: Set<number>;
}): JSX.Element {
  const { runs, dims, colors, brushes, inside } = props;
  const canvasRef = React.useRef<HTMLCanvasElement>(null);
  const width = 900;
  const height = 320;
  const innerH = height - PC_MARGIN.top - PC_MARGIN.bottom;
  const step =
    dims.length > 1
      ? (width - PC_MARGIN.left - PC_MARGIN.right) / (dims.length - 1)
      : 0;
  const axisX = React.useCallback(
    (d: number) => PC_MARGIN.left + d * step,
    [step]
  );
  const yOf = React.useCallback(
    (p: number) => PC_MARGIN.top + (1 - p) * innerH,
    [innerH]
  );
  const pos = React.useMemo(() => positions(runs, dims), [runs, dims]);
  const [drag, setDrag] = React.useState<{
    key: string;
    from: number;
    to: number;
  } | null>(null);

  React.useEffect(() => {
    const canvas = canvasRef.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) {
      return;
    }
    const ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const n = dims.length;
    const trace = (r: number) => {
      let pen = false;
      for (let d = 0; d < n; d++) {
        const p = pos[r * n + d];
        if (Number.isNaN(p)) {
          pen = false;
          continue;
        }
        if (pen) {
          ctx.lineTo(axisX(d), yOf(p));
        } else {
          ctx.moveTo(axisX(d), yOf(p));
          pen = true;
        }
      }
    };
    // runs outside the brushes: one faint grey path
    const all = brushes.length > 0;
    if (all) {
      ctx.beginPath();
      for (let r = 0; r < runs.length; r++) {
        if (!inside.has(r)) {
          trace(r);
        }
      }
      ctx.strokeStyle = 'rgba(128, 128, 128, 0.15)';
      ctx.lineWidth = 1 / ratio;
      ctx.stroke();
    }
    // the others by colour: one path per colour
    const byColor = new Map<string, number[]>();
    for (let r = 0; r < runs.length; r++) {
      if (all && !inside.has(r)) {
        continue;
      }
      const list = byColor.get(colors[r]);
      if (list) {
        list.push(r);
      } else {
        byColor.set(colors[r], [r]);
      }
    }
    ctx.globalAlpha = runs.length > 2000 ? 0.35 : 0.7;
    // Many runs: a device pixel wide. Such a stroke is a hairline, which a
    // browser without a GPU rasters for 10 000 runs in ~50 ms, where 1.2 px
    // lines take over a second (and at 0.35 alpha look the same).
    ctx.lineWidth = runs.length > 2000 ? 1 / ratio : 1.2;
    for (const [color, list] of byColor) {
      ctx.beginPath();
      for (const r of list) {
        trace(r);
      }
      ctx.strokeStyle = color;
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    // drawn: the runs on the canvas (tests and the benchmark wait for it)
    canvas.dataset.drawn = String(runs.length);
  }, [pos, runs, dims, colors, inside, brushes.length, axisX, yOf]);

  const toP = (ev: React.MouseEvent<SVGElement>) => {
    const svg =
      (ev.currentTarget as SVGElement).ownerSVGElement ??
      (ev.currentTarget as SVGSVGElement);
    const rect = svg.getBoundingClientRect();
    const y = ((ev.clientY - rect.top) / (rect.height || 1)) * height;
    return Math.min(1, Math.max(0, 1 - (y - PC_MARGIN.top) / innerH));
  };

  return (
    <div
      className="jp-mlops-parcoords"
      data-runs={runs.length}
      data-brushed={inside.size}
    >
      <canvas
        ref={canvasRef}
        style={{ width: '100%', aspectRatio: `${width} / ${height}` }}
      />
      <svg
        viewBox={`0 0 ${width} ${height}`}
        className="jp-mlops-parcoords-axes"
        onMouseMove={ev => drag && setDrag({ ...drag, to: toP(ev) })}
        onMouseUp={() => {
          if (drag) {
            const lo = Math.min(drag.from, drag.to);
            const hi = Math.max(drag.from, drag.to);
            const rest = brushes.filter(b => b.key !== drag.key);
            // a click (no drag) on an axis clears its brush
            props.onBrushes(
              hi - lo > 0.01 ? [...rest, { key: drag.key, lo, hi }] : rest
            );
          }
          setDrag(null);
        }}
        onMouseLeave={() => setDrag(null)}
      >
        {dims.map((dim, d) => {
          const brush =
            drag?.key === dim.key
              ? {
                  lo: Math.min(drag.from, drag.to),
                  hi: Math.max(drag.from, drag.to)
                }
              : brushes.find(b => b.key === dim.key);
          const ticks = axisTicks(dim, [0, 0.5, 1], 12);
          return (
            <g key={dim.key} className="jp-mlops-pc-axis" data-key={dim.key}>
              <line
                x1={axisX(d)}
                x2={axisX(d)}
                y1={PC_MARGIN.top}
                y2={PC_MARGIN.top + innerH}
                className="jp-mlops-chart-axis"
              />
              <text
                x={axisX(d)}
                y={PC_MARGIN.top - 12}
                textAnchor="middle"
                className="jp-mlops-pc-label"
              >
                {dim.label}
                {dim.log ? ' (log)' : ''}
              </text>
              {ticks.map(t => (
                <text
                  key={t.p}
                  x={axisX(d) + 4}
                  y={yOf(t.p) + 3}
                  className="jp-mlops-pc-tick"
                >
                  {t.label.length > 10 ? `${t.label.slice(0, 9)}…` : t.label}
                </text>
              ))}
              {brush && (
                <rect
                  className="jp-mlops-pc-brush"
                  data-lo={
                    dim.kind === 'numeric' ? valueAt(dim, brush.lo) : undefined
                  }
                  data-hi={
                    dim.kind === 'numeric' ? valueAt(dim, brush.hi) : undefined
                  }
                  x={axisX(d) - 7}
                  y={yOf(brush.hi)}
                  width={14}
                  height={Math.max(2, yOf(brush.lo) - yOf(brush.hi))}
                />
              )}
              <rect
                className="jp-mlops-pc-hit"
                x={axisX(d) - 12}
                y={PC_MARGIN.top - 4}
                width={24}
                height={innerH + 8}
                onMouseDown={ev => {
                  const p = toP(ev);
                  setDrag({ key: dim.key, from: p, to: p });
                  ev.preventDefault();
                }}
              >
                <title>
                  Drag along the axis to keep the runs in that range; click to
                  clear
                </title>
              </rect>
            </g>
          );
        })}
      </svg>
    </div>
  );
}

const SCATTER_WIDTH = 440;
const SCATTER_HEIGHT = 280;
const SCATTER_MARGIN = { top: 10, right: 12, bottom: 30, left: 52 };
/** Where a position in 0..1 of the x (y) dimension falls on the scatter. */
const scatterX = (p: number) =>
  SCATTER_MARGIN.left +
  p * (SCATTER_WIDTH - SCATTER_MARGIN.left - SCATTER_MARGIN.right);
const scatterY = (p: number) =>
  SCATTER_MARGIN.top +
  (1 - p) * (SCATTER_HEIGHT - SCATTER_MARGIN.top - SCATTER_MARGIN.bottom);

function Scatter(props: {
  runs: IRunSummary[];
  xKey: string;
  yKey: string;
  colors: string[];
  inside: Set<number> | null;
  onOpenRun: (runId: string) => void;
}): JSX.Element {
  const { runs, xKey, yKey, colors, inside } = props;
  const canvasRef = React.useRef<HTMLCanvasElement>(null);
  const m = SCATTER_MARGIN;
  const xDim = React.useMemo(() => dimension(runs, xKey), [runs, xKey]);
  const yDim = React.useMemo(() => dimension(runs, yKey), [runs, yKey]);
  const points = React.useMemo(() => {
    const pxs = columnPositions(runs, xDim);
    const pys = columnPositions(runs, yDim);
    return runs.map((_, i) => {
      const px = pxs[i];
      const py = pys[i];
      return Number.isNaN(px) || Number.isNaN(py)
        ? null
        : {
            i,
            x: scatterX(px),
            y: scatterY(py)
          };
    });
  }, [runs, xDim, yDim]);
  const drawn = points.filter(p => p !== null).length;

  React.useEffect(() => {
    const canvas = canvasRef.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx) {
      return;
    }
    const ratio = window.devicePixelRatio || 1;
    canvas.width = SCATTER_WIDTH * ratio;
    canvas.height = SCATTER_HEIGHT * ratio;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, SCATTER_WIDTH, SCATTER_HEIGHT);
    const jitter = (i: number) =>
      xDim.kind === 'categorical' ? ((i * 7919) % 11) - 5 : 0;
    const radius = runs.length > 2000 ? 2 : 3.5;
    // one path (one fill) per colour, the faded ones first, under the others
    const faded: number[] = [];
    const byColor = new Map<string, number[]>();
    points.forEach((p, k) => {
      if (!p) {
        return;
      }
      if (inside !== null && !inside.has(p.i)) {
        faded.push(k);
        return;
      }
      const list = byColor.get(colors[p.i]);
      if (list) {
        list.push(k);
      } else {
        byColor.set(colors[p.i], [k]);
      }
    });
    const fill = (list: number[], color: string, alpha: number) => {
      ctx.globalAlpha = alpha;
      ctx.fillStyle = color;
      ctx.beginPath();
      for (const k of list) {
        const p = points[k]!;
        const x = p.x + jitter(p.i);
        ctx.moveTo(x + radius, p.y);
        ctx.arc(x, p.y, radius, 0, 2 * Math.PI);
      }
      ctx.fill();
    };
    if (faded.length) {
      fill(faded, '#888888', 0.12);
    }
    for (const [color, list] of byColor) {
      fill(list, color, 0.8);
    }
    ctx.globalAlpha = 1;
  }, [points, colors, inside, runs.length, xDim]);

  const ticks = (dim: IDimension) => axisTicks(dim, [0, 0.25, 0.5, 0.75, 1], 8);

  return (
    <div
      className="jp-mlops-scatter"
      data-points={drawn}
      data-x={xKey}
      data-y={yKey}
    >
      <canvas
        ref={canvasRef}
        style={{
          width: '100%',
          aspectRatio: `${SCATTER_WIDTH} / ${SCATTER_HEIGHT}`
        }}
      />
      <svg
        viewBox={`0 0 ${SCATTER_WIDTH} ${SCATTER_HEIGHT}`}
        className="jp-mlops-scatter-axes"
        onClick={ev => {
          // open the run nearest the click
          const rect = (
            ev.currentTarget as SVGSVGElement
          ).getBoundingClientRect();
          const cx =
            ((ev.clientX - rect.left) / (rect.width || 1)) * SCATTER_WIDTH;
          const cy =
            ((ev.clientY - rect.top) / (rect.height || 1)) * SCATTER_HEIGHT;
          let best: { i: number; d: number } | null = null;
          for (const p of points) {
            if (p) {
              const d = (p.x - cx) ** 2 + (p.y - cy) ** 2;
              if (!best || d < best.d) {
                best = { i: p.i, d };
              }
            }
          }
          if (best && best.d < 100) {
            props.onOpenRun(runs[best.i].run_id);
          }
        }}
      >
        {ticks(yDim).map(t => (
          <text
            key={`y${t.p}`}
            x={m.left - 4}
            y={scatterY(t.p) + 3}
            textAnchor="end"
            className="jp-mlops-pc-tick"
          >
            {t.label}
          </text>
        ))}
        {ticks(xDim).map(t => (
          <text
            key={`x${t.p}`}
            x={scatterX(t.p)}
            y={SCATTER_HEIGHT - m.bottom + 14}
            textAnchor="middle"
            className="jp-mlops-pc-tick"
          >
            {t.label.length > 10 ? `${t.label.slice(0, 9)}…` : t.label}
          </text>
        ))}
        <line
          x1={m.left}
          x2={SCATTER_WIDTH - m.right}
          y1={SCATTER_HEIGHT - m.bottom}
          y2={SCATTER_HEIGHT - m.bottom}
          className="jp-mlops-chart-axis"
        />
        <line
          x1={m.left}
          x2={m.left}
          y1={m.top}
          y2={SCATTER_HEIGHT - m.bottom}
          className="jp-mlops-chart-axis"
        />
        <text
          x={(SCATTER_WIDTH + m.left) / 2}
          y={SCATTER_HEIGHT - 2}
          textAnchor="middle"
          className="jp-mlops-pc-label"
        >
          {xDim.label}
          {xDim.log ? ' (log)' : ''}
        </text>
      </svg>
    </div>
  );
}

function Legend(props: { coloring: IColoring; colorKey: string }): JSX.Element {
  const { coloring, colorKey } = props;
  return (
    <div className="jp-mlops-sweep-legend" data-color-by={colorKey}>
      <span className="jp-mlops-muted">
        {colorKey.replace(/^(params|metrics)\./, '')}:
      </span>
      {coloring.ramp ? (
        <>
          <span>{coloring.ramp.min}</span>
          <span className="jp-mlops-sweep-ramp" />
          <span>{coloring.ramp.max}</span>
        </>
      ) : (
        coloring.legend.map(item => (
          <span key={item.label} className="jp-mlops-chart-legend-item">
            <span
              className="jp-mlops-chart-swatch"
              style={{ background: item.color }}
            />
            {item.label}
          </span>
        ))
      )}
    </div>
  );
}

function GroupedCurves(props: {
  controller: MLOpsController;
  runs: IRunSummary[];
  groupKey: string;
  metricKey: string;
  band: BandKind;
}): JSX.Element {
  const { controller, runs, groupKey, metricKey, band } = props;
  const [series, setSeries] = React.useState<ISeries[] | null>(null);
  const [options, setOptions] = useChartOptions();
  const metric = metricKey.slice('metrics.'.length);
  const chosen = React.useMemo(
    () =>
      runs
        .filter(
          r =>
            rawValue(r, groupKey) !== null && r.metrics?.[metric] !== undefined
        )
        .slice(0, GROUP_MAX_RUNS),
    [runs, groupKey, metric]
  );
  React.useEffect(() => {
    let cancelled = false;
    setSeries(null);
    // the runs' curves in one request; if that fails (a run gone meanwhile), run by run
    const client = controller.client;
    const curveOf = (r: IRunSummary, h: IMetricHistory | undefined) =>
      h
        ? { group: String(rawValue(r, groupKey)), x: h.steps, y: h.values }
        : null;
    void client
      .metricHistories(
        chosen.map(r => r.run_id),
        metric,
        GROUP_MAX_POINTS
      )
      .then(
        byRun => chosen.map(r => curveOf(r, byRun.get(r.run_id))),
        () =>
          Promise.all(
            chosen.map(r =>
              client
                .metricHistory(r.run_id, metric, GROUP_MAX_POINTS)
                .then(h => curveOf(r, h))
                .catch(() => null)
            )
          )
      )
      .then(curves => {
        if (cancelled) {
          return;
        }
        const groups = groupCurves(
          curves.filter((c): c is NonNullable<typeof c> => c !== null),
          band
        );
        setSeries(
          groups.slice(0, MAX_LEGEND).map((g, i) => ({
            name: `${g.value} (${g.runs})`,
            x: g.x,
            y: g.mean,
            band: { lo: g.lo, hi: g.hi },
            color: PALETTE[i % PALETTE.length]
          }))
        );
      });
    return () => {
      cancelled = true;
    };
  }, [controller, chosen, groupKey, metric, band]);
  return (
    <div
      className="jp-mlops-sweep-groups"
      data-group-by={groupKey}
      data-groups={series?.length ?? 0}
    >
      <ChartControls options={options} onChange={setOptions} />
      {series ? (
        <LineChart
          title={`${metric}: mean of each ${groupKey.replace(/^params\./, '')}, ${band === 'std' ? '± 1 std' : 'min-max'} band`}
          metricKey={metricKey}
          series={series}
          options={options}
          width={640}
          height={260}
          note={
            runs.length > chosen.length
              ? `(${chosen.length} of ${runs.length} runs)`
              : undefined
          }
        />
      ) : (
        <div className="jp-mlops-muted">Loading {chosen.length} curves…</div>
      )}
    </div>
  );
}

export function SweepView(props: ISweepProps): JSX.Element {
  const { controller, runIds, onOpenRun } = props;
  const model = controller.model;
  useSignalRender(model.changed, kind => kind === 'runs');
  const pool = runIds
    ? runIds.map(id => model.getRun(id)).filter((r): r is IRunSummary => !!r)
    : model.sweepRuns;
  const poolKey = pool.map(r => r.run_id + r.last_update_time).join();
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const runs = React.useMemo(() => pool, [poolKey]);

  const params = React.useMemo(() => varyingParams(runs), [runs]);
  const metrics = React.useMemo(() => metricKeys(runs), [runs]);
  const [metricKey, setMetricKey] = React.useState<string>('');
  const [colorKey, setColorKey] = React.useState<string>('');
  const [scatterKey, setScatterKey] = React.useState<string>('');
  const [groupKey, setGroupKey] = React.useState<string>('');
  const [band, setBand] = React.useState<BandKind>('minmax');
  const [brushes, setBrushes] = React.useState<IBrush[]>([]);
  const metric = metrics.includes(metricKey) ? metricKey : (metrics[0] ?? '');
  const color = colorKey || metric;
  const scatterX = params.includes(scatterKey) ? scatterKey : (params[0] ?? '');
  const group = params.includes(groupKey) ? groupKey : '';

  const dims = React.useMemo(
    () =>
      [...params.slice(0, MAX_PARAM_AXES), ...(metric ? [metric] : [])].map(k =>
        dimension(runs, k)
      ),
    [runs, params, metric]
  );
  const coloring = React.useMemo(
    () => (color ? colorRuns(runs, color) : null),
    [runs, color]
  );
  const pos = React.useMemo(() => positions(runs, dims), [runs, dims]);
  const insideList = React.useMemo(
    () => brushed(pos, runs.length, dims, brushes),
    [pos, runs.length, dims, brushes]
  );
  const inside = React.useMemo(() => new Set(insideList), [insideList]);
  const ranking = React.useMemo(
    () => (metric ? importance(runs, params, metric) : []),
    [runs, params, metric]
  );

  // Brushing filters the sidebar's list: published from the mouse-up itself,
  // so the list updates in the same task as the axes (not a render later),
  // and again when the runs or axes change under the brushes. Closing the
  // view (or clearing) lifts it.
  const published = React.useRef<{
    brushes: IBrush[];
    pos: Float64Array;
  } | null>(null);
  const publish = (next: IBrush[], list: number[]) => {
    published.current = { brushes: next, pos };
    if (!next.length) {
      model.setBrushed(null);
      return;
    }
    model.setBrushed(
      list.map(i => runs[i].run_id),
      next.map(b => brushLabel(b, dims)).join(', ')
    );
  };
  const onBrushes = (next: IBrush[]) => {
    setBrushes(next);
    publish(next, brushed(pos, runs.length, dims, next));
  };
  React.useEffect(() => {
    const last = published.current;
    if (last && last.brushes === brushes && last.pos === pos) {
      return; // published by onBrushes
    }
    publish(brushes, insideList);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [insideList, brushes]);
  React.useEffect(() => () => model.setBrushed(null), [model]);
  // the sidebar's "clear" lifts the brush: forget ours too (runs after the effect above)
  React.useEffect(() => {
    if (brushes.length && model.brushedIds === null) {
      setBrushes([]);
    }
  }, [brushes.length, model.brushedIds]);

  if (runs.length < 2) {
    return (
      <div className="jp-mlops-sweep jp-mlops-muted">
        A sweep view needs two runs or more: select them in the MLOps runs
        sidebar, or filter it.
      </div>
    );
  }

  const keyOptions = (keys: string[]) =>
    keys.map(k => (
      <option key={k} value={k}>
        {k}
      </option>
    ));

  return (
    <div className="jp-mlops-sweep" data-runs={runs.length}>
      <header className="jp-mlops-detail-header">
        <h2 className="jp-mlops-detail-title">
          Sweep of {runs.length} runs
          <span className="jp-mlops-muted">
            {' '}
            ({runIds ? 'selected' : 'matching the sidebar filters'})
          </span>
        </h2>
        <div className="jp-mlops-sweep-controls">
          <label>
            Metric{' '}
            <select
              className="jp-mlops-select jp-mlops-sweep-metric"
              value={metric}
              onChange={ev => setMetricKey(ev.target.value)}
            >
              {keyOptions(metrics)}
            </select>
          </label>
          <label>
            Colour by{' '}
            <select
              className="jp-mlops-select jp-mlops-sweep-color"
              value={color}
              onChange={ev => setColorKey(ev.target.value)}
            >
              {keyOptions([...metrics, ...params])}
            </select>
          </label>
          {brushes.length > 0 && (
            <button
              className="jp-mlops-button jp-mlops-sweep-clear-brush"
              onClick={() => onBrushes([])}
            >
              Clear brushes ({inside.size} of {runs.length} runs)
            </button>
          )}
        </div>
      </header>
      {params.length === 0 ? (
        <div className="jp-mlops-muted">
          These runs share every param value: nothing to compare across.
        </div>
      ) : (
        <>
          <section className="jp-mlops-section-body">
            <h3 className="jp-mlops-sweep-heading">Parallel coordinates</h3>
            <ParallelCoordinates
              runs={runs}
              dims={dims}
              colors={coloring?.colors ?? []}
              brushes={brushes}
              onBrushes={onBrushes}
              inside={inside}
            />
            {coloring && <Legend coloring={coloring} colorKey={color} />}
          </section>
          <div className="jp-mlops-sweep-row">
            <section className="jp-mlops-section-body">
              <h3 className="jp-mlops-sweep-heading">
                <select
                  className="jp-mlops-select jp-mlops-sweep-scatter-x"
                  value={scatterX}
                  onChange={ev => setScatterKey(ev.target.value)}
                >
                  {keyOptions(params)}
                </select>{' '}
                vs {metric.replace(/^metrics\./, '')}
              </h3>
              <Scatter
                runs={runs}
                xKey={scatterX}
                yKey={metric}
                colors={coloring?.colors ?? []}
                inside={brushes.length ? inside : null}
                onOpenRun={onOpenRun}
              />
            </section>
            <section className="jp-mlops-section-body">
              <h3 className="jp-mlops-sweep-heading">
                Parameter importance for {metric.replace(/^metrics\./, '')}
              </h3>
              <table className="jp-mlops-importance">
                <thead>
                  <tr>
                    <th>param</th>
                    <th title="Pearson correlation with the metric (of log10 for log-scaled params)">
                      correlation
                    </th>
                    <th title="Spearman rank correlation">rank corr.</th>
                    <th title="Share of the metric's variance the param's values explain (eta squared)">
                      explains
                    </th>
                    <th>runs</th>
                  </tr>
                </thead>
                <tbody>
                  {ranking.map(row => (
                    <tr key={row.key} data-key={row.key}>
                      <th>{row.key.replace(/^params\./, '')}</th>
                      <td className="jp-mlops-importance-corr">
                        {row.correlation === null
                          ? '–'
                          : row.correlation.toFixed(2)}
                      </td>
                      <td>{row.rank === null ? '–' : row.rank.toFixed(2)}</td>
                      <td>
                        {row.explained === null ? (
                          '–'
                        ) : (
                          <span
                            className="jp-mlops-importance-bar"
                            title={`${Math.round(row.explained * 100)} %`}
                          >
                            <span
                              style={{
                                width: `${Math.round(row.explained * 100)}%`
                              }}
                            />
                          </span>
                        )}
                      </td>
                      <td>{row.runs}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          </div>
          <section className="jp-mlops-section-body">
            <h3 className="jp-mlops-sweep-heading">
              Curves grouped by{' '}
              <select
                className="jp-mlops-select jp-mlops-sweep-group"
                value={group}
                onChange={ev => setGroupKey(ev.target.value)}
              >
                <option value="">(choose a param)</option>
                {keyOptions(params)}
              </select>{' '}
              <select
                className="jp-mlops-select jp-mlops-sweep-band"
                value={band}
                onChange={ev => setBand(ev.target.value as BandKind)}
              >
                <option value="minmax">min-max band</option>
                <option value="std">± 1 std band</option>
              </select>
            </h3>
            {group && metric && (
              <GroupedCurves
                controller={controller}
                runs={brushes.length ? insideList.map(i => runs[i]) : runs}
                groupKey={group}
                metricKey={metric}
                band={band}
              />
            )}
          </section>
        </>
      )}
    </div>
  );
}

export class SweepWidget extends ReactWidget {
  constructor(private _props: ISweepProps) {
    super();
    this.addClass('jp-mlops-sweep-widget');
  }

  get runIds(): string[] | null {
    return this._props.runIds;
  }

  render(): JSX.Element {
    return <SweepView {...this._props} />;
  }
}

export { numericValue };
