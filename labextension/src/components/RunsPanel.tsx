/**
 * The sidebar: toolbar, filter box, column chooser and a windowed runs list
 * (fixed row height, only the visible rows are in the DOM: 10 000 runs
 * scroll smoothly).
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { completeKey, ICompletion } from '../complete';
import { LiveState, MLOpsController } from '../controller';
import {
  formatDateTime,
  formatDuration,
  formatShortDuration,
  formatShortTime,
  formatTime,
  formatValue,
  metricOf,
  splitDecimal
} from '../format';
import { durationMs, runValue } from '../filter';
import { ColumnWidths, IListLayout, listLayout } from '../layout';
import { FROZEN_COLUMNS, IColumnInfo, RunsModel } from '../model';
import { CommandIDs, IRunSummary, RUN_STATUSES, RunStatus } from '../tokens';
import { scrollToRow, visibleWindow } from '../windowing';
import { useElementSize, useSignalRender, useTicker } from './hooks';
import { StatusBadge } from './StatusBadge';

export const ROW_HEIGHT = 28;
export const HEADER_HEIGHT = 28;

export interface IRunsPanelProps {
  controller: MLOpsController;
  onOpenRun: (runId: string) => void;
  onCompare: (runIds: string[]) => void;
  /** Persist the chosen columns (settings). */
  onColumnsChanged?: (columns: string[]) => void;
  /** Run a command of the extension (archive, restore, purge, export...). */
  onCommand?: (command: string, args?: { [key: string]: any }) => void;
}

/** A cell's value: a metric logged non-finite is NaN or ±Infinity (not blank). */
function shownValue(
  run: IRunSummary,
  key: string,
  now: number
): string | number | null | undefined {
  return key.startsWith('metrics.') && key.slice(8) in run.metrics
    ? metricOf(run, key)
    : runValue(run, key, now);
}

function cellText(
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
function cellTitle(run: IRunSummary, col: IColumnInfo, now: number): string {
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
        typeof v === 'number' && !Number.isFinite(v) ? formatValue(v) : String(v);
      return `${col.key} = ${v === null || v === undefined ? '(none)' : full}`;
    }
  }
}

/** The row's tooltip: identity, and the columns left out for lack of room. */
function rowTitle(run: IRunSummary, hidden: IColumnInfo[], now: number): string {
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
function AlignedNumber(props: { text: string; fracWidth: number }): JSX.Element {
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
function fractionWidths(
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

const RunRow = React.memo(function RunRow(props: {
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
            col.key in layout.sticky ? { left: layout.sticky[col.key] } : undefined
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
});

function ColumnChooser(props: {
  model: RunsModel;
  onClose: () => void;
}): JSX.Element {
  const { model } = props;
  const [needle, setNeedle] = React.useState('');
  const available = model.availableColumns;
  const chosen = new Set(model.columns);
  const groups: Array<[string, string[]]> = [
    ['Metrics', available.metrics],
    ['Params', available.params],
    ['Tags', available.tags]
  ];
  const n = needle.toLowerCase();
  return (
    <div className="jp-mlops-column-chooser" data-testid="mlops-column-chooser">
      <div className="jp-mlops-column-chooser-header">
        <input
          className="jp-mlops-input"
          placeholder="Find a column…"
          value={needle}
          autoFocus
          onChange={ev => setNeedle(ev.target.value)}
        />
        <button className="jp-mlops-button" onClick={props.onClose}>
          Done
        </button>
      </div>
      <div className="jp-mlops-column-chooser-body">
        {groups.map(([label, keys]) => {
          const shown = keys.filter(k => !n || k.toLowerCase().includes(n));
          return (
            <fieldset key={label} className="jp-mlops-column-group">
              <legend>{label}</legend>
              {shown.length === 0 && (
                <span className="jp-mlops-muted">none</span>
              )}
              {shown.slice(0, 300).map(key => (
                <label key={key} className="jp-mlops-column-option">
                  <input
                    type="checkbox"
                    data-column={key}
                    checked={chosen.has(key)}
                    onChange={() => model.toggleColumn(key)}
                  />
                  {key.slice(key.indexOf('.') + 1)}
                </label>
              ))}
            </fieldset>
          );
        })}
      </div>
    </div>
  );
}

/**
 * The filter input: key completion (Tab or Enter takes the highlighted key,
 * arrows move, Escape closes it, then clears) and a clear button.
 */
function FilterBox(props: {
  model: RunsModel;
  text: string;
  onText: (text: string) => void;
}): JSX.Element {
  const { model, text, onText } = props;
  const input = React.useRef<HTMLInputElement>(null);
  const [completion, setCompletion] = React.useState<ICompletion | null>(null);
  const [active, setActive] = React.useState(0);

  const suggest = (value: string, caret: number) => {
    const available = model.availableColumns;
    const keys = [...available.params, ...available.metrics, ...available.tags];
    setCompletion(completeKey(value, caret, keys));
    setActive(0);
  };
  const accept = (index: number) => {
    if (!completion) {
      return;
    }
    const key = completion.suggestions[index];
    const next = text.slice(0, completion.from) + key + ' ' + text.slice(completion.to);
    onText(next);
    setCompletion(null);
    const caret = completion.from + key.length + 1;
    requestAnimationFrame(() => input.current?.setSelectionRange(caret, caret));
  };
  const clear = () => {
    onText('');
    model.query = '';
    setCompletion(null);
    input.current?.focus();
  };

  return (
    <div className="jp-mlops-filter-row">
      <input
        ref={input}
        className={'jp-mlops-filter jp-mlops-input' + (model.filterError ? ' jp-mlops-invalid' : '')}
        data-testid="mlops-filter"
        type="text"
        placeholder="Search, or metrics.acc > 0.9"
        title={FILTER_HELP}
        aria-label="Filter runs"
        aria-invalid={!!model.filterError}
        aria-autocomplete="list"
        aria-expanded={!!completion}
        autoComplete="off"
        spellCheck={false}
        value={text}
        onChange={ev => {
          onText(ev.target.value);
          suggest(ev.target.value, ev.target.selectionStart ?? ev.target.value.length);
        }}
        onBlur={() => setCompletion(null)}
        onKeyDown={ev => {
          if (completion) {
            const n = completion.suggestions.length;
            if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
              setActive((active + (ev.key === 'ArrowDown' ? 1 : n - 1)) % n);
              ev.preventDefault();
              return;
            }
            if (ev.key === 'Tab' || ev.key === 'Enter') {
              accept(active);
              ev.preventDefault();
              return;
            }
            if (ev.key === 'Escape') {
              setCompletion(null);
              ev.preventDefault();
              return;
            }
          }
          if (ev.key === 'Enter') {
            model.query = text;
          } else if (ev.key === 'Escape') {
            clear();
          }
        }}
      />
      {text && (
        <button
          className="jp-mlops-filter-clear"
          title="Clear the filter"
          aria-label="Clear the filter"
          onClick={clear}
        >
          ×
        </button>
      )}
      {completion && (
        <ul className="jp-mlops-suggestions" role="listbox">
          {completion.suggestions.map((key, i) => (
            <li
              key={key}
              role="option"
              aria-selected={i === active}
              className={'jp-mlops-suggestion' + (i === active ? ' jp-mod-active' : '')}
              onMouseDown={ev => {
                ev.preventDefault(); // keep the focus in the input
                accept(i);
              }}
            >
              {key}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The filter box's tooltip: the syntax in a nutshell. */
export const FILTER_HELP = [
  'Free text matches the name, notebook, a tag value or the run id.',
  'Or an expression, comparisons joined by "and":',
  "  metrics.acc > 0.9 and params.opt = 'sgd'",
  '  params.lr < 0.01   start_time > -1d',
  "  start_time > '2026-12-01'   start_time > -2h",
  "  tags.team = 'vision' and status = 'FINISHED'",
  "  name LIKE 'sgd%'   params.opt IN ('sgd', 'adam')",
  '  tags.owner IS NULL   metrics.`val loss` < 0.2',
  'A number compares params as numbers; times take UTC dates, or -1d (s m h d w).',
  'Tab completes a key. Enter applies, Escape clears.'
].join('\n');

const LIVE_LABEL: { [k in LiveState]: string } = {
  live: 'live',
  connecting: 'connecting…',
  polling: 'polling',
  off: 'paused'
};

interface IRunsListProps {
  model: RunsModel;
  runs: IRunSummary[];
  columns: IColumnInfo[];
  /** Widths the user set by dragging header edges. */
  widths: ColumnWidths;
  /** Changes whenever the model changes (selection, sort...): re-render. */
  version: number;
  onOpenRun: (runId: string) => void;
}

/** The drag payload type of a column header being moved. */
const COLUMN_DRAG_TYPE = 'application/x-jupyter-mlops-column';

/**
 * A column header: click to sort, drag its right edge to resize (double-click
 * the edge for the default width), drag the header onto another to move the
 * column there. The status and the name stay first (they stay put while the
 * list scrolls sideways).
 */
function HeaderCell(props: {
  model: RunsModel;
  column: IColumnInfo;
  label: string;
  width: number;
  sticky: number | undefined;
  sort: { key: string; direction: 'asc' | 'desc' };
}): JSX.Element {
  const { model, column: col, label, width, sticky, sort } = props;
  const frozen = FROZEN_COLUMNS.includes(col.key);
  const [dropSide, setDropSide] = React.useState<'before' | 'after' | null>(null);
  const resizing = React.useRef(false);

  const onResizeStart = (ev: React.PointerEvent<HTMLSpanElement>) => {
    ev.preventDefault();
    ev.stopPropagation();
    const handle = ev.currentTarget;
    const cell = handle.parentElement as HTMLElement;
    const startX = ev.clientX;
    const startWidth = cell.getBoundingClientRect().width;
    resizing.current = true;
    handle.setPointerCapture(ev.pointerId);
    const move = (e: PointerEvent) =>
      model.setColumnWidth(col.key, startWidth + e.clientX - startX);
    const up = (e: PointerEvent) => {
      handle.releasePointerCapture(e.pointerId);
      handle.removeEventListener('pointermove', move);
      handle.removeEventListener('pointerup', up);
      handle.removeEventListener('pointercancel', up);
      // the click that follows the release must not sort
      setTimeout(() => (resizing.current = false), 0);
    };
    handle.addEventListener('pointermove', move);
    handle.addEventListener('pointerup', up);
    handle.addEventListener('pointercancel', up);
  };

  const side = (ev: React.DragEvent<HTMLSpanElement>): 'before' | 'after' => {
    const box = ev.currentTarget.getBoundingClientRect();
    return ev.clientX < box.left + box.width / 2 ? 'before' : 'after';
  };
  const dragged = (ev: React.DragEvent) =>
    ev.dataTransfer.types.includes(COLUMN_DRAG_TYPE);

  return (
    <span
      role="columnheader"
      className={
        `jp-mlops-cell jp-mlops-header-cell jp-mlops-cell-${col.kind}` +
        (col.auto ? ' jp-mlops-auto-column' : '') +
        (sticky !== undefined ? ' jp-mlops-sticky' : '') +
        (dropSide ? ` jp-mlops-drop-${dropSide}` : '')
      }
      style={sticky !== undefined ? { left: sticky } : undefined}
      data-column={col.key}
      data-width={Math.round(width)}
      aria-sort={
        sort.key === col.key
          ? sort.direction === 'asc'
            ? 'ascending'
            : 'descending'
          : 'none'
      }
      aria-label={col.label}
      title={
        `${col.kind === 'attribute' ? col.label : col.key} — click to sort` +
        (frozen ? '' : ', drag to move') +
        ', drag the edge to resize' +
        (col.auto ? ' (shown because the filter or the sort uses it)' : '')
      }
      draggable={!frozen}
      onDragStart={ev => {
        ev.dataTransfer.setData(COLUMN_DRAG_TYPE, col.key);
        ev.dataTransfer.setData('text/plain', col.key);
        ev.dataTransfer.effectAllowed = 'move';
      }}
      onDragOver={ev => {
        if (frozen || !dragged(ev)) {
          return;
        }
        ev.preventDefault();
        ev.dataTransfer.dropEffect = 'move';
        setDropSide(side(ev));
      }}
      onDragLeave={() => setDropSide(null)}
      onDrop={ev => {
        const key = ev.dataTransfer.getData(COLUMN_DRAG_TYPE);
        setDropSide(null);
        if (!key || frozen) {
          return;
        }
        ev.preventDefault();
        if (side(ev) === 'before') {
          model.moveColumn(key, col.key);
        } else {
          const keys = model.orderedColumns.map(c => c.key);
          model.moveColumn(key, keys[keys.indexOf(col.key) + 1] ?? null);
        }
      }}
      onClick={() => {
        if (!resizing.current) {
          model.toggleSort(col.key);
        }
      }}
    >
      <span className="jp-mlops-header-label">
        {col.kind === 'metric' && <span className="jp-mlops-kind">m</span>}
        {col.kind === 'param' && <span className="jp-mlops-kind">p</span>}
        {col.kind === 'tag' && <span className="jp-mlops-kind">t</span>}
        {label}
      </span>
      {sort.key === col.key && (
        <span className="jp-mlops-sort-arrow" aria-hidden="true">
          {sort.direction === 'asc' ? '▲' : '▼'}
        </span>
      )}
      <span
        className="jp-mlops-resize-handle"
        role="separator"
        aria-orientation="vertical"
        aria-label={`Resize ${col.label}`}
        title="Drag to resize; double-click for the default width"
        onPointerDown={onResizeStart}
        onClick={ev => ev.stopPropagation()}
        onDoubleClick={ev => {
          ev.stopPropagation();
          model.setColumnWidth(col.key, null);
        }}
      />
    </span>
  );
}

/**
 * The windowed list: owns the scroll position, so scrolling re-renders only
 * the ~40 rows in view (not the toolbar, not the filtering).
 */
const RunsList = React.memo(function RunsList(
  props: IRunsListProps
): JSX.Element {
  const { model, runs, columns, widths, onOpenRun } = props;
  const viewportRef = React.useRef<HTMLDivElement>(null);
  const { width: viewportWidth, height: viewportHeight } =
    useElementSize(viewportRef);
  const [scrollTop, setScrollTop] = React.useState(0);
  const [activeRun, setActiveRun] = React.useState<string | null>(null);
  const frame = React.useRef<number | null>(null);

  const layout = React.useMemo(
    () => listLayout(columns, viewportWidth, widths),
    [columns, viewportWidth, widths]
  );
  const rowsViewport = Math.max(0, viewportHeight - HEADER_HEIGHT);
  const win = visibleWindow(
    scrollTop - HEADER_HEIGHT,
    rowsViewport,
    ROW_HEIGHT,
    runs.length
  );
  const slice = runs.slice(win.start, win.end);
  const anyRunning = slice.some(r => r.status === 'RUNNING');
  useTicker(anyRunning, 1000);
  const now = Date.now();
  const minute = Math.floor(now / 60000) * 60000;

  const onToggle = React.useCallback(
    (runId: string) => model.toggleSelected(runId),
    [model]
  );
  const onToggleCollapse = React.useCallback(
    (runId: string) => model.toggleCollapsed(runId),
    [model]
  );
  const fracWidths = fractionWidths(slice, columns, now);
  const onOpen = React.useCallback(
    (runId: string) => {
      setActiveRun(runId);
      onOpenRun(runId);
    },
    [onOpenRun]
  );

  const onScroll = (ev: React.UIEvent<HTMLDivElement>) => {
    const el = ev.currentTarget;
    if (frame.current === null) {
      frame.current = requestAnimationFrame(() => {
        frame.current = null;
        setScrollTop(el.scrollTop);
      });
    }
  };
  React.useEffect(
    () => () => {
      if (frame.current !== null) {
        cancelAnimationFrame(frame.current);
      }
    },
    []
  );

  const onKeyDown = (ev: React.KeyboardEvent) => {
    if (!runs.length) {
      return;
    }
    let idx = activeRun ? runs.findIndex(r => r.run_id === activeRun) : -1;
    const page = Math.max(1, Math.floor(rowsViewport / ROW_HEIGHT) - 1);
    const moves: { [key: string]: () => number } = {
      ArrowDown: () => idx + 1,
      ArrowUp: () => Math.max(0, idx - 1),
      PageDown: () => idx + page,
      PageUp: () => idx - page,
      Home: () => 0,
      End: () => runs.length - 1
    };
    if (
      ev.target instanceof HTMLInputElement &&
      (ev.key === ' ' || ev.key === 'Enter')
    ) {
      return; // a focused checkbox ticks itself
    }
    if (ev.key in moves) {
      idx = Math.max(0, Math.min(runs.length - 1, moves[ev.key]()));
      setActiveRun(runs[idx].run_id);
      const el = viewportRef.current;
      if (el) {
        el.scrollTop = scrollToRow(idx, el.scrollTop, rowsViewport, ROW_HEIGHT);
      }
      ev.preventDefault();
    } else if (ev.key === 'Enter' && idx >= 0) {
      onOpen(runs[idx].run_id);
      ev.preventDefault();
    } else if (ev.key === ' ' && idx >= 0) {
      model.toggleSelected(runs[idx].run_id);
      ev.preventDefault();
    }
  };

  const selected = model.selectedIds;
  const sort = model.sort;
  const matching = model.matchingRuns;
  const allSelected =
    matching.length > 0 &&
    selected.length >= matching.length &&
    matching.every(r => model.isSelected(r.run_id));

  return (
    <div
      className="jp-mlops-runs-viewport"
      ref={viewportRef}
      tabIndex={0}
      role="grid"
      aria-rowcount={runs.length + 1}
      aria-busy={model.loading}
      onScroll={onScroll}
      onKeyDown={onKeyDown}
    >
      <div
        className="jp-mlops-runs-header"
        role="row"
        style={{
          gridTemplateColumns: layout.template,
          height: HEADER_HEIGHT,
          minWidth: layout.minWidth
        }}
      >
        <span className="jp-mlops-cell jp-mlops-cell-select" role="columnheader">
          <input
            type="checkbox"
            className="jp-mlops-select-all"
            aria-label="Select all the runs matching the filters"
            title={`Select all ${matching.length} runs matching the filters`}
            checked={allSelected}
            onChange={ev =>
              ev.target.checked
                ? model.selectAllVisible()
                : model.clearSelection()
            }
          />
        </span>
        {layout.columns.map(({ column: col, label, width }) => (
          <HeaderCell
            key={col.key}
            model={model}
            column={col}
            label={label}
            width={width}
            sticky={layout.sticky[col.key]}
            sort={sort}
          />
        ))}
      </div>
      <div
        className="jp-mlops-runs-body"
        style={{ height: win.totalHeight, minWidth: layout.minWidth }}
        data-total-rows={runs.length}
      >
        {slice.map((run, i) => (
          <RunRow
            key={run.run_id}
            run={run}
            index={win.start + i}
            layout={layout}
            selected={model.isSelected(run.run_id)}
            active={run.run_id === activeRun}
            now={run.status === 'RUNNING' ? now : minute}
            depth={model.depth(run.run_id)}
            childCount={model.childCount(run.run_id)}
            collapsed={model.isCollapsed(run.run_id)}
            fracWidths={fracWidths}
            onOpen={onOpen}
            onToggle={onToggle}
            onToggleCollapse={onToggleCollapse}
          />
        ))}
      </div>
      {!model.loading && runs.length === 0 && !model.error && (
        <div className="jp-mlops-empty">
          {model.size === 0 ? (
            <>
              No runs yet. In a notebook: <code>%load_ext jupyter_mlops</code>{' '}
              then <code>%%track</code> a cell.
            </>
          ) : (
            'No run matches the filters.'
          )}
        </div>
      )}
      {model.loading && runs.length === 0 && (
        <div className="jp-mlops-empty">Loading runs…</div>
      )}
    </div>
  );
});

export function RunsPanel(props: IRunsPanelProps): JSX.Element {
  const { controller, onOpenRun, onCompare, onColumnsChanged, onCommand } =
    props;
  const model = controller.model;
  // user actions render at once (a controlled checkbox must not flicker);
  // bursts of live updates ('runs', 'loading') at most once per frame
  const version = useSignalRender(
    model.changed,
    kind => kind !== 'runs' && kind !== 'loading'
  );
  useSignalRender(controller.experimentsChanged);
  useSignalRender(controller.liveStateChanged);

  const [chooserOpen, setChooserOpen] = React.useState(false);
  const [filterText, setFilterText] = React.useState(model.query);

  // debounce typing into the model (filtering 10 000 runs per keystroke is wasteful)
  React.useEffect(() => {
    const id = setTimeout(() => {
      model.query = filterText;
    }, 120);
    return () => clearTimeout(id);
  }, [filterText, model]);

  const columnsKey = model.columns.join('\u0000');
  React.useEffect(() => {
    onColumnsChanged?.(model.columns);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [columnsKey]);

  const runs = model.visibleRuns;
  const matchingCount = model.matchingRuns.length;
  const autoKey = model.autoColumns.join('\u0000');
  const orderKey = model.columnOrder.join('\u0000');
  const columns = React.useMemo(
    () => model.orderedColumns,
    [columnsKey, autoKey, orderKey, model]
  );
  const widthsKey = JSON.stringify(model.columnWidths);
  const widths = React.useMemo(() => model.columnWidths, [widthsKey, model]);
  const selected = model.selectedIds;
  const counts = model.statusCounts;
  const liveState = controller.liveState;

  return (
    <div className="jp-mlops-sidebar-content">
      <div className="jp-mlops-toolbar">
        <select
          className="jp-mlops-select jp-mlops-experiment-select"
          aria-label="Experiment"
          value={model.experiment ?? ''}
          onChange={ev => (model.experiment = ev.target.value || null)}
        >
          <option value="">All experiments</option>
          {controller.experiments.map(e => (
            <option key={e.experiment_id} value={e.name}>
              {e.name} ({e.run_count})
            </option>
          ))}
          {model.experiment &&
            !controller.experiments.some(e => e.name === model.experiment) && (
              <option value={model.experiment}>{model.experiment}</option>
            )}
        </select>
        <select
          className="jp-mlops-select jp-mlops-status-select"
          aria-label="Status"
          value={model.statusFilter ?? ''}
          onChange={ev =>
            (model.statusFilter = (ev.target.value || null) as RunStatus | null)
          }
        >
          <option value="">Any status</option>
          {RUN_STATUSES.map(s => (
            <option key={s} value={s}>
              {s.toLowerCase()}
            </option>
          ))}
        </select>
        <button
          className="jp-mlops-button jp-mlops-refresh"
          title="Reload runs"
          onClick={() => void controller.reload()}
        >
          ⟳
        </button>
        <button
          className={'jp-mlops-button jp-mlops-columns-button' + (chooserOpen ? ' jp-mod-active' : '')}
          title="Choose columns (params, metrics, tags)"
          aria-expanded={chooserOpen}
          onClick={() => setChooserOpen(!chooserOpen)}
        >
          Columns
        </button>
        <button
          className={
            'jp-mlops-button jp-mlops-archived-toggle' +
            (model.showArchived ? ' jp-mod-active' : '')
          }
          aria-pressed={model.showArchived}
          title={
            model.showArchived
              ? 'Showing archived runs: click to show the active ones'
              : 'Show archived runs (restore them, or delete them for good)'
          }
          onClick={() => (model.showArchived = !model.showArchived)}
        >
          Archived
        </button>
        <button
          className="jp-mlops-button jp-mlops-export-csv"
          title="Export the runs shown, with the chosen columns, as CSV"
          disabled={runs.length === 0}
          onClick={() => onCommand?.(CommandIDs.exportCsv)}
        >
          CSV
        </button>
        {model.showArchived ? (
          <>
            <button
              className="jp-mlops-button jp-mlops-restore-button"
              disabled={!selected.length}
              title="Restore the selected runs (and their child runs)"
              onClick={() =>
                onCommand?.(CommandIDs.restoreRuns, { runIds: selected })
              }
            >
              Restore{selected.length ? ` (${selected.length})` : ''}
            </button>
            <button
              className="jp-mlops-button jp-mlops-purge-button jp-mod-warn"
              disabled={!selected.length}
              title="Delete the selected archived runs for good (asks first)"
              onClick={() =>
                onCommand?.(CommandIDs.purgeRuns, { runIds: selected })
              }
            >
              Delete…
            </button>
          </>
        ) : (
          <>
            <button
              className="jp-mlops-button jp-mlops-archive-button"
              disabled={!selected.length}
              title="Archive the selected runs (and their child runs); restorable"
              onClick={() =>
                onCommand?.(CommandIDs.archiveRuns, { runIds: selected })
              }
            >
              Archive{selected.length ? ` (${selected.length})` : ''}
            </button>
            <button
              className="jp-mlops-button jp-mlops-sweep-button"
              disabled={matchingCount < 2}
              title={
                selected.length >= 2
                  ? `Sweep views of the ${selected.length} selected runs`
                  : 'Sweep views (parallel coordinates, scatter, importance) of the runs shown'
              }
              onClick={() => onCommand?.(CommandIDs.openSweep)}
            >
              Sweep
            </button>
            <button
              className="jp-mlops-button jp-mlops-compare-button jp-mod-accept"
              disabled={!model.canCompare}
              title={model.canCompare ? 'Compare the selected runs' : 'Select two or more runs to compare'}
              onClick={() => onCompare(model.selectedIds)}
            >
              Compare{selected.length ? ` (${selected.length})` : ''}
            </button>
          </>
        )}
      </div>
      <FilterBox
        model={model}
        text={filterText}
        onText={setFilterText}
      />
      {model.filterError && (
        <div className="jp-mlops-filter-error" role="alert">
          {model.filterError}
        </div>
      )}
      {chooserOpen && (
        <ColumnChooser model={model} onClose={() => setChooserOpen(false)} />
      )}
      <div className="jp-mlops-summary">
        <span className="jp-mlops-count" data-count={matchingCount}>
          {matchingCount === model.size
            ? `${matchingCount} run${matchingCount === 1 ? '' : 's'}`
            : `${matchingCount} of ${model.size} runs`}
          {model.total > model.size ? ` (${model.total} on server)` : ''}
        </span>
        {RUN_STATUSES.filter(s => counts[s]).map(s => (
          <span key={s} className={`jp-mlops-count-badge jp-mlops-status-${s}`}>
            {counts[s]} {s.toLowerCase()}
          </span>
        ))}
        {selected.length > 0 && (
          <button
            className="jp-mlops-link-button"
            onClick={() => model.clearSelection()}
          >
            clear selection
          </button>
        )}
        {model.brushedIds && (
          <span className="jp-mlops-brush" title={`Brushed in the sweep view: ${model.brushLabel}`}>
            brushed: {model.brushLabel}
            <button
              className="jp-mlops-link-button jp-mlops-brush-clear"
              aria-label="Clear the brush"
              onClick={() => model.setBrushed(null)}
            >
              ×
            </button>
          </span>
        )}
        <span
          className={`jp-mlops-live jp-mlops-live-${liveState}`}
          title={
            liveState === 'live'
              ? 'Live updates from the server'
              : liveState === 'polling'
                ? `Refreshing every ${controller.settings.refreshIntervalSeconds} s`
                : 'Live updates are off'
          }
        >
          ● {LIVE_LABEL[liveState]}
        </span>
      </div>
      {model.error && (
        <div className="jp-mlops-error" role="alert">
          {model.error}
        </div>
      )}
      <RunsList
        model={model}
        runs={runs}
        columns={columns}
        widths={widths}
        version={version}
        onOpenRun={onOpenRun}
      />
    </div>
  );
}

/** Lumino widget of the sidebar. */
export class RunsSidebar extends ReactWidget {
  constructor(private _props: IRunsPanelProps) {
    super();
    this.addClass('jp-mlops-sidebar');
    this.node.dataset.testid = 'mlops-sidebar';
  }

  /** Called the first time the sidebar is shown (lazy loading). */
  onFirstShow: (() => void) | null = null;

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (this.onFirstShow) {
      const cb = this.onFirstShow;
      this.onFirstShow = null;
      cb();
    }
  }

  render(): JSX.Element {
    return <RunsPanel {...this._props} />;
  }
}
