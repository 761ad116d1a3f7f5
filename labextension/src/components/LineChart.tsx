/**
 * A small dependency-free SVG line chart (one or several series).
 *
 * `<svg class="jp-mlops-chart" data-points="N">` where N is the number of
 * points drawn (all series), for browser tests.
 */
import * as React from 'react';

import {
  extent,
  ISeries,
  linePath,
  nearestIndex,
  niceTicks,
  pointCount,
  scale,
  seriesColor
} from '../chart';
import { formatNumber } from '../format';

export interface ILineChartProps {
  series: ISeries[];
  title?: string;
  xLabel?: string;
  width?: number;
  height?: number;
  /** Extra note under the title (e.g. "downsampled from 10 000 points"). */
  note?: string;
  metricKey?: string;
}

const MARGIN = { top: 10, right: 12, bottom: 24, left: 52 };

export function LineChart(props: ILineChartProps): JSX.Element {
  const { series, title, note, metricKey } = props;
  const width = props.width ?? 420;
  const height = props.height ?? 200;
  const [hover, setHover] = React.useState<number | null>(null);
  const svgRef = React.useRef<SVGSVGElement>(null);

  const innerW = width - MARGIN.left - MARGIN.right;
  const innerH = height - MARGIN.top - MARGIN.bottom;

  const geometry = React.useMemo(() => {
    const xe = extent(series.flatMap(s => s.x));
    const integerX = series.every(s => s.x.every(v => Number.isInteger(v)));
    const ye = extent(series.flatMap(s => s.y));
    if (!xe || !ye) {
      return null;
    }
    // single step: keep the point in the middle
    const sx = scale(xe, [MARGIN.left, MARGIN.left + innerW]);
    const sy = scale(ye, [MARGIN.top + innerH, MARGIN.top]);
    return {
      xe,
      ye,
      sx,
      sy,
      // steps are integers: no 0.5 ticks
      xTicks: niceTicks(xe.min, xe.max, Math.max(2, Math.floor(innerW / 80))).filter(
        t => !integerX || Number.isInteger(t)
      ),
      yTicks: niceTicks(ye.min, ye.max, Math.max(2, Math.floor(innerH / 40))),
      paths: series.map(s => linePath(s.x, s.y, sx, sy))
    };
  }, [series, innerW, innerH]);

  const points = pointCount(series);

  const onMove = (ev: React.MouseEvent<SVGSVGElement>) => {
    if (!geometry || !svgRef.current) {
      return;
    }
    const rect = svgRef.current.getBoundingClientRect();
    const px = ((ev.clientX - rect.left) / (rect.width || 1)) * width;
    const { xe } = geometry;
    const xv =
      xe.min + ((px - MARGIN.left) / (innerW || 1)) * (xe.max - xe.min);
    setHover(xv);
  };

  let tooltip: JSX.Element | null = null;
  if (geometry && hover !== null) {
    const rows: Array<{ name: string; color: string; x: number; y: number }> =
      [];
    series.forEach((s, i) => {
      const idx = nearestIndex(s.x, hover);
      const v = idx >= 0 ? s.y[idx] : null;
      if (idx >= 0 && v !== null && Number.isFinite(v)) {
        rows.push({
          name: s.name,
          color: s.color ?? seriesColor(i),
          x: s.x[idx],
          y: v
        });
      }
    });
    if (rows.length) {
      const cx = geometry.sx(rows[0].x);
      const boxW = 150;
      const boxH = 16 + rows.length * 14;
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
          {rows.map((r, i) => (
            <circle
              key={i}
              cx={geometry.sx(r.x)}
              cy={geometry.sy(r.y)}
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
            step {formatNumber(rows[0].x)}
          </text>
          {rows.map((r, i) => (
            <text key={i} x={left + 6} y={MARGIN.top + 26 + i * 14} fill={r.color}>
              {truncate(r.name, 14)}: {formatNumber(r.y)}
            </text>
          ))}
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
        </div>
      )}
      <svg
        ref={svgRef}
        className="jp-mlops-chart"
        data-points={points}
        data-metric={metricKey}
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="xMidYMid meet"
        role="img"
        aria-label={title ? `Chart of ${title}` : 'Metric chart'}
        onMouseMove={onMove}
        onMouseLeave={() => setHover(null)}
      >
        <rect
          x={MARGIN.left}
          y={MARGIN.top}
          width={innerW}
          height={innerH}
          className="jp-mlops-chart-plot"
        />
        {geometry ? (
          <>
            {geometry.yTicks.map(t => (
              <g key={`y${t}`} className="jp-mlops-chart-tick">
                <line
                  x1={MARGIN.left}
                  x2={MARGIN.left + innerW}
                  y1={geometry.sy(t)}
                  y2={geometry.sy(t)}
                  className="jp-mlops-chart-grid"
                />
                <text
                  x={MARGIN.left - 4}
                  y={geometry.sy(t) + 3}
                  textAnchor="end"
                >
                  {formatNumber(t)}
                </text>
              </g>
            ))}
            {geometry.xTicks.map(t => (
              <g key={`x${t}`} className="jp-mlops-chart-tick">
                <line
                  x1={geometry.sx(t)}
                  x2={geometry.sx(t)}
                  y1={MARGIN.top + innerH}
                  y2={MARGIN.top + innerH + 4}
                  className="jp-mlops-chart-axis"
                />
                <text
                  x={geometry.sx(t)}
                  y={MARGIN.top + innerH + 15}
                  textAnchor="middle"
                >
                  {formatNumber(t)}
                </text>
              </g>
            ))}
            {geometry.paths.map((d, i) => (
              <path
                key={i}
                d={d}
                className="jp-mlops-chart-line"
                stroke={series[i].color ?? seriesColor(i)}
                data-series={series[i].name}
              />
            ))}
            {series.map((s, i) =>
              // a lone point has no segment: draw it as a dot
              s.y.filter(v => v !== null && Number.isFinite(v)).length ===
              1 ? (
                s.x.map((x, j) =>
                  s.y[j] !== null && Number.isFinite(s.y[j] as number) ? (
                    <circle
                      key={`${i}-${j}`}
                      cx={geometry.sx(x)}
                      cy={geometry.sy(s.y[j] as number)}
                      r={3}
                      fill={s.color ?? seriesColor(i)}
                    />
                  ) : null
                )
              ) : null
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
            no data
          </text>
        )}
      </svg>
      {series.length > 1 && (
        <div className="jp-mlops-chart-legend">
          {series.map((s, i) => (
            <span key={i} className="jp-mlops-chart-legend-item">
              <span
                className="jp-mlops-chart-swatch"
                style={{ background: s.color ?? seriesColor(i) }}
              />
              {s.name}
            </span>
          ))}
        </div>
      )}
    </div>
  );
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
