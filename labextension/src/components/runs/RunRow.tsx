import * as React from 'react';

import {
  formatDateTime,
  formatDuration,
  formatShortDuration,
  formatShortTime,
  formatTime,
  formatValue,
  metricOf,
  splitDecimal
} from '../../format';
import { durationMs, runValue } from '../../filter';
import { IListLayout } from '../../layout';
import { IColumnInfo } from '../../model';
import { IRunSummary } from '../../tokens';
import { StatusBadge } from '../StatusBadge';

export const ROW_HEIGHT = 28;
export const HEADER_HEIGHT = 28;

/** A cell's value: a metric logged non-finite is NaN or ±Infinity (not blank). */
export function shownValue(
  run: IRunSummary,
  key: string,
  now: number
): string | number | null | undefined {
  return key.startsWith('metrics.') && key.slice(8) in run.metrics
    ? metricOf(run, key)
    : runValue(run, key, now);
}

export function cellText(
  run: IRunSummary,
  col: IColumnInfo,
  now: number,
  compact: boolean
): string {
  switch (col.key) {
    case 'name':
      return run.name || run.run_id;
    case 'start_time':
      return compact
        ? formatShortTime(run.start_time, now)
        : formatTime(run.start_time, now);
    case 'duration':
      return compact
        ? formatShortDuration(durationMs(run, now))
        : formatDuration(durationMs(run, now));
    default:
      return formatValue(shownValue(run, col.key, now));
  }
}

/** A cell's tooltip: the full value (cells are cut with an ellipsis). */
export function cellTitle(
  run: IRunSummary,
  col: IColumnInfo,
  now: number
): string {
  switch (col.key) {
    case 'name':
      return run.name || run.run_id;
    case 'status':
      return run.status.toLowerCase();
    case 'start_time':
      return `Started ${formatDateTime(run.start_time)}`;
    case 'duration':
      return `Duration ${formatDuration(durationMs(run, now))}`;
    default: {
      const v = shownValue(run, col.key, now);
      // the full value (cells are rounded); non-finite as the cells read it
      const full =
        typeof v === 'number' && !Number.isFinite(v)
          ? formatValue(v)
          : String(v);
      return `${col.key} = ${v === null || v === undefined ? '(none)' : full}`;
    }
  }
}

/** The row's tooltip: identity, and the columns left out for lack of room. */
export function rowTitle(
  run: IRunSummary,
  hidden: IColumnInfo[],
  now: number
): string {
  const lines = [
    run.name || run.run_id,
    `${run.experiment} · ${run.run_id}`,
    `${run.status.toLowerCase()} · started ${formatDateTime(run.start_time)}`
  ];
  if (run.parent_run_id) {
    lines.push(`child of run ${run.parent_run_id}`);
  }
  for (const col of hidden) {
    if (col.key !== 'start_time') {
      lines.push(`${col.label}: ${cellText(run, col, now, false)}`);
    }
  }
  return lines.join('\n');
}

/** A number aligned on its decimal point: the fraction gets `fracWidth` ch. */
export function AlignedNumber(props: {
  text: string;
  fracWidth: number;
}): JSX.Element {
  const parts = splitDecimal(props.text);
  if (!parts) {
    return <>{props.text}</>;
  }
  return (
    <span className="jp-mlops-num">
      <span className="jp-mlops-num-int">{parts[0]}</span>
      <span
        className="jp-mlops-num-frac"
        style={{ minWidth: `${props.fracWidth}ch` }}
      >
        {parts[1]}
      </span>
    </span>
  );
}

/** Per value column, the widest fraction among `runs` (ch), to align on. */
export function fractionWidths(
  runs: IRunSummary[],
  columns: IColumnInfo[],
  now: number
): { [key: string]: number } {
  const out: { [key: string]: number } = {};
  for (const col of columns) {
    if (col.kind === 'attribute') {
      continue;
    }
    let widest = 0;
    for (const run of runs) {
      const parts = splitDecimal(formatValue(shownValue(run, col.key, now)));
      if (parts && parts[1].length > widest) {
        widest = parts[1].length;
      }
    }
    out[col.key] = widest;
  }
  return out;
}

function RunRowView(props: {
  run: IRunSummary;
  index: number;
  layout: IListLayout;
  selected: boolean;
  active: boolean;
  now: number;
  depth: number;
  childCount: number;
  collapsed: boolean;
  fracWidths: { [key: string]: number };
  onOpen: (runId: string) => void;
  onToggle: (runId: string) => void;
  onToggleCollapse: (runId: string) => void;
}): JSX.Element {
  const { run, index, layout, selected, active, now, depth, childCount } =
    props;
  return (
    <div
      className={
        'jp-mlops-run-row' +
        (selected ? ' jp-mlops-selected' : '') +
        (active ? ' jp-mlops-active' : '') +
        (index % 2 ? ' jp-mlops-odd' : '')
      }
      role="row"
      aria-rowindex={index + 2}
      aria-selected={selected}
      data-run-id={run.run_id}
      data-status={run.status}
      data-testid="mlops-run-row"
      style={{
        top: index * ROW_HEIGHT,
        height: ROW_HEIGHT,
        gridTemplateColumns: layout.template
      }}
      title={rowTitle(run, layout.hidden, now)}
      onClick={() => props.onOpen(run.run_id)}
    >
      <span className="jp-mlops-cell jp-mlops-cell-select" role="gridcell">
        <input
          type="checkbox"
          className="jp-mlops-run-select"
          checked={selected}
          aria-label={`Select ${run.name || run.run_id} for comparison`}
          onClick={ev => ev.stopPropagation()}
          onChange={() => props.onToggle(run.run_id)}
        />
      </span>
      {layout.columns.map(({ column: col }) => (
        <span
          key={col.key}
          role="gridcell"
          className={
            `jp-mlops-cell jp-mlops-cell-${col.kind}` +
            (col.key in layout.sticky ? ' jp-mlops-sticky' : '')
          }
          style={
            col.key in layout.sticky
              ? { left: layout.sticky[col.key] }
              : undefined
          }
          data-column={col.key}
          title={cellTitle(run, col, now)}
        >
          {col.key === 'status' ? (
            <StatusBadge status={run.status} dot={layout.statusDot} />
          ) : col.key === 'name' ? (
            <>
              {depth > 0 && (
                <span
                  className="jp-mlops-indent"
                  style={{ width: Math.min(depth, 6) * 10 }}
                />
              )}
              {childCount > 0 ? (
                <button
                  className="jp-mlops-tree-toggle"
                  aria-expanded={!props.collapsed}
                  aria-label={`${props.collapsed ? 'Show' : 'Hide'} ${childCount} child runs`}
                  title={`${props.collapsed ? 'Show' : 'Hide'} ${childCount} child run${childCount === 1 ? '' : 's'}`}
                  onClick={ev => {
                    ev.stopPropagation();
                    props.onToggleCollapse(run.run_id);
                  }}
                >
                  {props.collapsed ? '▸' : '▾'}
                </button>
              ) : run.parent_run_id ? (
                <span className="jp-mlops-child-mark" aria-label="child run">
                  ↳
                </span>
              ) : null}
              {cellText(run, col, now, layout.compact)}
              {props.collapsed && childCount > 0 && (
                <span className="jp-mlops-child-count">{childCount}</span>
              )}
            </>
          ) : col.kind !== 'attribute' ? (
            <AlignedNumber
              text={cellText(run, col, now, layout.compact)}
              fracWidth={props.fracWidths[col.key] ?? 0}
            />
          ) : (
            cellText(run, col, now, layout.compact)
          )}
        </span>
      ))}
    </div>
  );
}

/** One row of the runs list (re-rendered only when its props change). */
export const RunRow = React.memo(RunRowView);
