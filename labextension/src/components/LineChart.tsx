/**
 * A small dependency-free SVG line chart (one or several series), with the
 * controls of its view (`IChartOptions`): smoothing (the raw curve stays,
 * faint), log y, outlier clipping, x by step / wall time / relative time.
 * Drag across the plot to zoom into an x range, double-click to reset.
 * Charts under one `ChartSync` provider share the hover position.
 *
 * `<svg class="jp-mlops-chart" data-points="N">` where N is the number of
 * points drawn (all series), for browser tests. A metric with a single value
 * is shown as that value (`.jp-mlops-single-value`), not as a lone dot.
 */
import * as React from 'react';

import {
  bandPath,
  DEFAULT_CHART_OPTIONS,
  emaSmooth,
  extent,
  IChartOptions,
  IExtent,
  ISeries,
  isSingleValue,
  linePath,
  logScale,
  logTicks,
  nearestIndex,
  niceTicks,
  pointCount,
  positiveOnly,
  rangeInView,
  scale,
  seriesColor,
  XAxis,
  widenToFinite,
  xValues
} from '../chart';
import { formatDuration, formatNumber } from '../format';

export interface ILineChartProps {
  series: ISeries[];
  title?: string;
  width?: number;
  height?: number;
  /** Extra note under the title (e.g. "downsampled from 10 000 points"). */
  note?: string;
  metricKey?: string;
  options?: IChartOptions;
}

/** Hover position shared by the charts of a view (in x-axis units). */
export interface IChartSync {
  x: number | null;
  axis: XAxis;
  setX: (x: number | null) => void;
}

export const ChartSyncContext = React.createContext<IChartSync | null>(null);

/** Share the hover position between the charts inside. */
export function ChartSync(props: {
  axis: XAxis;
  children: React.ReactNode;
}): JSX.Element {
  const [x, setX] = React.useState<number | null>(null);
  const value = React.useMemo(
    () => ({ x, axis: props.axis, setX }),
    [x, props.axis]
  );
  return (
    <ChartSyncContext.Provider value={value}>
      {props.children}
    </ChartSyncContext.Provider>
  );
}

const MARGIN = { top: 10, right: 12, bottom: 24, left: 52 };

function formatX(v: number, axis: XAxis): string {
  if (axis === 'wall') {
    const d = new Date(v);
    const pad = (n: number) => String(n).padStart(2, '0');
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  if (axis === 'relative') {
    return formatDuration(v * 1000);
  }
  return formatNumber(v);
}

const X_LABEL: { [axis in XAxis]: string } = {
  step: 'step',
  wall: 'time',
  relative: 'elapsed'
};

interface IPrepared {
  name: string;
  color: string;
  x: number[];
  raw: Array<number | null>;
  /** What the line shows: smoothed, positive only on a log axis. */
  y: Array<number | null>;
  band?: { lo: number[]; hi: number[] };
  /** Only one finite value: drawn as a dot. */
  lone: boolean;
}

export function LineChart(props: ILineChartProps): JSX.Element {
  const { series, title, note, metricKey } = props;
  const options = props.options ?? DEFAULT_CHART_OPTIONS;
  const width = props.width ?? 420;
  const height = props.height ?? 200;
  const sync = React.useContext(ChartSyncContext);
  const [localHover, setLocalHover] = React.useState<number | null>(null);
  const hover = sync ? sync.x : localHover;
  const setHover = sync ? sync.setX : setLocalHover;
  const [zoom, setZoom] = React.useState<IExtent | null>(null);
  const [drag, setDrag] = React.useState<{ from: number; to: number } | null>(
    null
  );
  const svgRef = React.useRef<SVGSVGElement>(null);
  const clipId = `jp-mlops-clip-${React.useId().replace(/:/g, '')}`;

  const innerW = width - MARGIN.left - MARGIN.right;
  const innerH = height - MARGIN.top - MARGIN.bottom;
  const axis = options.xAxis;

  // a zoom is in x-axis units: another axis starts unzoomed
  React.useEffect(() => setZoom(null), [axis]);

  // What depends on the data (not the smoothing): x values, raw y, lone points.
  const base = React.useMemo(
    () =>
      series.map((s, i) => {
        const raw = options.logY ? positiveOnly(s.y) : s.y;
        let finite = 0;
        for (const v of raw) {
          if (v !== null && Number.isFinite(v)) {
            finite++;
          }
        }
        return {
          name: s.name,
          color: s.color ?? seriesColor(i),
          x: xValues(s.x, s.t, axis),
          raw,
          band: s.band,
          lone: finite === 1
        };
      }),
    [series, options.logY, axis]
  );
  // A smoothing step redoes only this, the line paths and (maybe) the y range.
  const prepared: IPrepared[] = React.useMemo(
    () => base.map(s => ({ ...s, y: emaSmooth(s.raw, options.smoothing) })),
    [base, options.smoothing]
  );
  const fullX = React.useMemo(() => {
    const bounds: [number, number] = [Infinity, -Infinity];
    for (const s of base) {
      widenToFinite(bounds, s.x);
    }
    return extent(bounds[0] <= bounds[1] ? bounds : []);
  }, [base]);
  const integerX = React.useMemo(
    () =>
      axis === 'step' && base.every(s => s.x.every(v => Number.isInteger(v))),
    [base, axis]
  );
  const xe = fullX ? (zoom ?? fullX) : null;
  // the extent's ends, not the object: a new but equal extent keeps the memos
  const xMin = xe?.min;
  const xMax = xe?.max;
  const smoothed = options.smoothing > 0;
  // the y range: raw values in view, smoothed ones too (zoomed, they can lie
  // outside the raw ones in view), bands (positive ones on a log axis)
  const bandValues = React.useMemo(
    () =>
      options.clipOutliers
        ? []
        : base.flatMap(s =>
            s.band
              ? [s.band.lo, s.band.hi].map(v =>
                  options.logY ? v.filter(b => b > 0) : v
                )
              : []
          ),
    [base, options.clipOutliers, options.logY]
  );
  const rawRange = React.useMemo(
    () =>
      xMin !== undefined && xMax !== undefined
        ? rangeInView(
            base.map(s => s.x),
            base.map(s => s.raw),
            xMin,
            xMax,
            options.clipOutliers,
            bandValues
          )
        : null,
    [base, xMin, xMax, options.clipOutliers, bandValues]
  );
  const smoothRange = React.useMemo(
    () =>
      xMin !== undefined && xMax !== undefined && smoothed
        ? options.clipOutliers
          ? rangeInView(
              [...base.map(s => s.x), ...prepared.map(s => s.x)],
              [...base.map(s => s.raw), ...prepared.map(s => s.y)],
              xMin,
              xMax,
              true
            )
          : rangeInView(
              prepared.map(s => s.x),
              prepared.map(s => s.y),
              xMin,
              xMax,
              false
            )
        : null,
    [base, prepared, xMin, xMax, options.clipOutliers, smoothed]
  );
  let yRange = rawRange;
  if (smoothRange) {
    yRange = options.clipOutliers
      ? smoothRange
      : rawRange
        ? extent([rawRange.min, rawRange.max, smoothRange.min, smoothRange.max])
        : smoothRange;
  }
  if (yRange && options.logY) {
    // the log extent: positive values only, widened to whole-ish decades
    yRange = { min: Math.max(yRange.min, Number.MIN_VALUE), max: yRange.max };
    if (yRange.min === yRange.max) {
      yRange = { min: yRange.min / 2, max: yRange.max * 2 };
    }
  }

  // scales and ticks: the same objects while the ranges stay (then the raw
  // paths and bands are not rebuilt)
  const scales = React.useMemo(() => {
    if (!xe || !yRange) {
      return null;
    }
    const ye = yRange;
    const sx = scale(xe, [MARGIN.left, MARGIN.left + innerW]);
    const sy = options.logY
      ? logScale(ye, [MARGIN.top + innerH, MARGIN.top])
      : scale(ye, [MARGIN.top + innerH, MARGIN.top]);
    const xTicks = niceTicks(
      xe.min,
      xe.max,
      Math.max(2, Math.floor(innerW / (axis === 'wall' ? 110 : 80)))
    ).filter(t => !integerX || Number.isInteger(t));
    const yTicks = options.logY
      ? logTicks(ye.min, ye.max)
      : niceTicks(ye.min, ye.max, Math.max(2, Math.floor(innerH / 40)));
    return { fullX: fullX!, xe, ye, sx, sy, xTicks, yTicks };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [
    fullX,
    xe?.min,
    xe?.max,
    yRange?.min,
    yRange?.max,
    options.logY,
    innerW,
    innerH,
    axis,
    integerX
  ]);

  const rawPaths = React.useMemo(
    () =>
      scales && smoothed
        ? base.map(s => linePath(s.x, s.raw, scales.sx, scales.sy))
        : null,
    [base, scales, smoothed]
  );
  const bands = React.useMemo(
    () =>
      scales
        ? base.map(s =>
            s.band
              ? bandPath(
                  s.x,
                  options.logY
                    ? s.band.lo.map(v => Math.max(v, scales.ye.min))
                    : s.band.lo,
                  s.band.hi,
                  scales.sx,
                  scales.sy
                )
              : ''
          )
        : [],
    [base, scales, options.logY]
  );
  const paths = React.useMemo(
    () =>
      scales ? prepared.map(s => linePath(s.x, s.y, scales.sx, scales.sy)) : [],
    [prepared, scales]
  );

  // The SVG children, each group memoised on what it draws: a smoothing step
  // re-renders only the lines, a hover (every chart of the view, per mouse
  // move) only the tooltip. React then compares a handful of elements, not
  // every run's paths and every tick.
  const axes = React.useMemo(
    () =>
      scales ? (
        <>
          {scales.yTicks.map(t => (
            <g key={`y${t}`} className="jp-mlops-chart-tick">
              <line
                x1={MARGIN.left}
                x2={MARGIN.left + innerW}
                y1={scales.sy(t)}
                y2={scales.sy(t)}
                className="jp-mlops-chart-grid"
              />
              <text x={MARGIN.left - 4} y={scales.sy(t) + 3} textAnchor="end">
                {formatNumber(t)}
              </text>
            </g>
          ))}
          {scales.xTicks.map(t => (
            <g key={`x${t}`} className="jp-mlops-chart-tick">
              <line
                x1={scales.sx(t)}
                x2={scales.sx(t)}
                y1={MARGIN.top + innerH}
                y2={MARGIN.top + innerH + 4}
                className="jp-mlops-chart-axis"
              />
              <text
                x={scales.sx(t)}
                y={MARGIN.top + innerH + 15}
                textAnchor="middle"
              >
                {formatX(t, axis)}
              </text>
            </g>
          ))}
        </>
      ) : null,
    [scales, innerW, innerH, axis]
  );
  const bandShapes = React.useMemo(
    () =>
      bands.map((d, i) =>
        d ? (
          <path
            key={`band${i}`}
            d={d}
            className="jp-mlops-chart-band"
            fill={base[i].color}
          />
        ) : null
      ),
    [bands, base]
  );
  const rawLines = React.useMemo(
    () =>
      rawPaths?.map((d, i) => (
        <path
          key={`raw${i}`}
          d={d}
          className="jp-mlops-chart-raw"
          stroke={base[i].color}
        />
      )),
    [rawPaths, base]
  );
  const lines = React.useMemo(
    () =>
      paths.map((d, i) => (
        <path
          key={i}
          d={d}
          className="jp-mlops-chart-line"
          stroke={base[i].color}
          data-series={base[i].name}
        />
      )),
    [paths, base]
  );
  const dots = React.useMemo(
    () =>
      scales
        ? prepared.map((s, i) =>
            // a lone point of a series has no segment: draw it as a dot
            s.lone
              ? s.x.map((x, j) =>
                  s.y[j] !== null && Number.isFinite(s.y[j] as number) ? (
                    <circle
                      key={`${i}-${j}`}
                      cx={scales.sx(x)}
                      cy={scales.sy(s.y[j] as number)}
                      r={3}
                      fill={s.color}
                    />
                  ) : null
                )
              : null
          )
        : null,
    [prepared, scales]
  );

  const points = React.useMemo(() => pointCount(series), [series]);
  const single = React.useMemo(() => isSingleValue(series), [series]);

  if (single) {
    return (
      <SingleValue
        series={series}
        title={metricKey ?? title}
        metricKey={metricKey}
        points={points}
      />
    );
  }

  const toX = (ev: React.MouseEvent<SVGSVGElement>): number | null => {
    if (!scales || !svgRef.current) {
      return null;
    }
    const rect = svgRef.current.getBoundingClientRect();
    const px = ((ev.clientX - rect.left) / (rect.width || 1)) * width;
    const { xe } = scales;
    return xe.min + ((px - MARGIN.left) / (innerW || 1)) * (xe.max - xe.min);
  };

  const onMove = (ev: React.MouseEvent<SVGSVGElement>) => {
    const xv = toX(ev);
    if (xv === null) {
      return;
    }
    if (drag) {
      setDrag({ ...drag, to: xv });
    }
    setHover(xv);
  };

  const onUp = () => {
    if (drag && scales) {
      const lo = Math.min(drag.from, drag.to);
      const hi = Math.max(drag.from, drag.to);
      const span = scales.xe.max - scales.xe.min;
      if (hi - lo > span * 0.01) {
        setZoom({ min: lo, max: hi });
      }
    }
    setDrag(null);
  };

  let tooltip: JSX.Element | null = null;
  if (
    scales &&
    hover !== null &&
    hover >= scales.xe.min &&
    hover <= scales.xe.max
  ) {
    const rows: Array<{ name: string; color: string; x: number; y: number }> =
      [];
    prepared.forEach(s => {
      const idx = nearestIndex(s.x, hover);
      const v = idx >= 0 ? s.y[idx] : null;
      if (idx >= 0 && v !== null && Number.isFinite(v)) {
        rows.push({ name: s.name, color: s.color, x: s.x[idx], y: v });
      }
    });
    if (rows.length) {
      const cx = scales.sx(rows[0].x);
      const shown = rows.slice(0, 8);
      const boxW = 160;
      const boxH =
        16 + shown.length * 14 + (rows.length > shown.length ? 14 : 0);
      const left = cx + boxW + 8 > width ? cx - boxW - 8 : cx + 8;
      tooltip = (
        <g className="jp-mlops-chart-tooltip" pointerEvents="none">
          <line
            x1={cx}
            x2={cx}
            y1={MARGIN.top}
            y2={MARGIN.top + innerH}
            className="jp-mlops-chart-cursor"
          />
          {shown.map((r, i) => (
            <circle
              key={i}
              cx={scales.sx(r.x)}
              cy={scales.sy(r.y)}
              r={3}
              fill={r.color}
            />
          ))}
          <rect
            x={left}
            y={MARGIN.top}
            width={boxW}
            height={boxH}
            rx={3}
            className="jp-mlops-chart-tooltip-box"
          />
          <text x={left + 6} y={MARGIN.top + 12}>
            {X_LABEL[axis]} {formatX(rows[0].x, axis)}
          </text>
          {shown.map((r, i) => (
            <text
              key={i}
              x={left + 6}
              y={MARGIN.top + 26 + i * 14}
              fill={r.color}
            >
              {truncate(r.name, 14)}: {formatNumber(r.y)}
            </text>
          ))}
          {rows.length > shown.length && (
            <text x={left + 6} y={MARGIN.top + 26 + shown.length * 14}>
              +{rows.length - shown.length} more
            </text>
          )}
        </g>
      );
    }
  }

  return (
    <div className="jp-mlops-chart-container">
      {title && (
        <div className="jp-mlops-chart-title" title={note ?? title}>
          {title}
          {note && <span className="jp-mlops-chart-note"> {note}</span>}
          {zoom && (
            <button
              className="jp-mlops-link-button jp-mlops-chart-unzoom"
              title="Show the whole x range (or double-click the chart)"
              onClick={() => setZoom(null)}
            >
              reset zoom
            </button>
          )}
        </div>
      )}
      <svg
        ref={svgRef}
        className={
          'jp-mlops-chart' +
          (series.length > LEGEND_MAX ? ' jp-mlops-chart-dense' : '')
        }
        data-points={points}
        data-metric={metricKey}
        data-zoomed={zoom ? 'true' : 'false'}
        data-log-y={options.logY ? 'true' : 'false'}
        data-x-axis={axis}
        data-smoothing={options.smoothing}
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="xMidYMid meet"
        role="img"
        aria-label={title ? `Chart of ${title}` : 'Metric chart'}
        onMouseMove={onMove}
        onMouseDown={ev => {
          const xv = toX(ev);
          if (xv !== null && ev.button === 0) {
            setDrag({ from: xv, to: xv });
            ev.preventDefault();
          }
        }}
        onMouseUp={onUp}
        onMouseLeave={() => {
          setHover(null);
          setDrag(null);
        }}
        onDoubleClick={() => setZoom(null)}
      >
        <defs>
          <clipPath id={clipId}>
            <rect
              x={MARGIN.left}
              y={MARGIN.top}
              width={innerW}
              height={innerH}
            />
          </clipPath>
        </defs>
        <rect
          x={MARGIN.left}
          y={MARGIN.top}
          width={innerW}
          height={innerH}
          className="jp-mlops-chart-plot"
        />
        {scales ? (
          <>
            {axes}
            <g clipPath={`url(#${clipId})`}>
              {bandShapes}
              {rawLines}
              {lines}
              {dots}
            </g>
            {drag && Math.abs(drag.to - drag.from) > 0 && (
              <rect
                className="jp-mlops-chart-brush"
                x={scales.sx(Math.min(drag.from, drag.to))}
                y={MARGIN.top}
                width={Math.abs(scales.sx(drag.to) - scales.sx(drag.from))}
                height={innerH}
              />
            )}
            {tooltip}
          </>
        ) : (
          <text
            x={MARGIN.left + innerW / 2}
            y={MARGIN.top + innerH / 2}
            textAnchor="middle"
            className="jp-mlops-chart-empty"
          >
            {options.logY ? 'no positive values for a log axis' : 'no data'}
          </text>
        )}
      </svg>
      {series.length > 1 && <Legend series={base} />}
    </div>
  );
}

/** The legend, bounded: past 12 series it says how many more there are. */
const LEGEND_MAX = 12;

function LegendView(props: {
  series: Array<{ name: string; color: string }>;
}): JSX.Element {
  const { series } = props;
  const shown = series.slice(0, LEGEND_MAX);
  return (
    <div className="jp-mlops-chart-legend">
      {shown.map((s, i) => (
        <span key={i} className="jp-mlops-chart-legend-item" title={s.name}>
          <span
            className="jp-mlops-chart-swatch"
            style={{ background: s.color }}
          />
          {truncate(s.name, 24)}
        </span>
      ))}
      {series.length > shown.length && (
        <span className="jp-mlops-chart-legend-more">
          +{series.length - shown.length} more
        </span>
      )}
    </div>
  );
}

/** Memoised: the series' names and colours (not their points) change it. */
const Legend = React.memo(LegendView);

/** A metric logged once: its value, large, instead of a dot on an empty axis. */
function SingleValue(props: {
  series: ISeries[];
  title?: string;
  metricKey?: string;
  points: number;
}): JSX.Element {
  const values = props.series
    .map((s, i) => {
      const j = s.y.findIndex(v => v !== null && Number.isFinite(v));
      return j < 0
        ? null
        : {
            name: s.name,
            color: s.color ?? seriesColor(i),
            value: s.y[j] as number,
            step: s.x[j]
          };
    })
    .filter((v): v is NonNullable<typeof v> => v !== null);
  return (
    <div
      className="jp-mlops-chart-container jp-mlops-single-value"
      data-metric={props.metricKey}
      data-points={props.points}
    >
      {props.title && <div className="jp-mlops-chart-title">{props.title}</div>}
      {values.length === 1 ? (
        <div
          className="jp-mlops-single-value-number"
          title={`step ${values[0].step}`}
        >
          {formatNumber(values[0].value)}
        </div>
      ) : (
        <table className="jp-mlops-single-value-table">
          <tbody>
            {values.map((v, i) => (
              <tr key={i}>
                <th>
                  <span
                    className="jp-mlops-chart-swatch"
                    style={{ background: v.color }}
                  />
                  {v.name}
                </th>
                <td className="jp-mlops-single-value-cell">
                  {formatNumber(v.value)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="jp-mlops-muted">logged once</div>
    </div>
  );
}

/** The controls of a view's charts. */
export function ChartControls(props: {
  options: IChartOptions;
  onChange: (options: IChartOptions) => void;
  /** Whether the runs have wall-clock times (not in tests' fake histories). */
  times?: boolean;
}): JSX.Element {
  const { options, onChange } = props;
  const set = (patch: Partial<IChartOptions>) =>
    onChange({ ...options, ...patch });
  return (
    <div
      className="jp-mlops-chart-controls"
      role="toolbar"
      aria-label="Chart controls"
    >
      <label
        className="jp-mlops-chart-control"
        title="Exponential moving average, as TensorBoard's; the raw curve stays, faint"
      >
        Smoothing
        <input
          type="range"
          className="jp-mlops-smoothing"
          min={0}
          max={0.99}
          step={0.01}
          value={options.smoothing}
          onChange={ev => set({ smoothing: Number(ev.target.value) })}
        />
        <span className="jp-mlops-smoothing-value">
          {options.smoothing.toFixed(2)}
        </span>
      </label>
      <label className="jp-mlops-chart-control">
        <input
          type="checkbox"
          className="jp-mlops-log-y"
          checked={options.logY}
          onChange={ev => set({ logY: ev.target.checked })}
        />
        Log y
      </label>
      <label
        className="jp-mlops-chart-control"
        title="Scale y to the bulk of the values (1.5 interquartile ranges beyond the quartiles), so one diverged run does not flatten the others"
      >
        <input
          type="checkbox"
          className="jp-mlops-clip-outliers"
          checked={options.clipOutliers}
          onChange={ev => set({ clipOutliers: ev.target.checked })}
        />
        Clip outliers
      </label>
      <label className="jp-mlops-chart-control">
        x
        <select
          className="jp-mlops-select jp-mlops-x-axis"
          value={options.xAxis}
          onChange={ev => set({ xAxis: ev.target.value as XAxis })}
        >
          <option value="step">step</option>
          <option value="wall">wall time</option>
          <option value="relative">relative time</option>
        </select>
      </label>
      <span className="jp-mlops-muted jp-mlops-chart-hint">
        drag to zoom, double-click to reset
      </span>
    </div>
  );
}

/** Chart options of a view, kept for the session in this browser. */
export function useChartOptions(): [IChartOptions, (o: IChartOptions) => void] {
  const [options, setOptions] = React.useState<IChartOptions>(() => {
    try {
      const saved = JSON.parse(
        window.sessionStorage.getItem('jupyter-mlops:chart-options') ?? 'null'
      );
      return saved
        ? { ...DEFAULT_CHART_OPTIONS, ...saved }
        : DEFAULT_CHART_OPTIONS;
    } catch {
      return DEFAULT_CHART_OPTIONS;
    }
  });
  const update = React.useCallback((next: IChartOptions) => {
    setOptions(next);
    try {
      window.sessionStorage.setItem(
        'jupyter-mlops:chart-options',
        JSON.stringify(next)
      );
    } catch {
      // no storage: the options hold for this view only
    }
  }, []);
  return [options, update];
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
