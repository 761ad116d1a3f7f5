import * as React from 'react';

import { ColumnWidths, listLayout } from '../../layout';
import { FROZEN_COLUMNS, IColumnInfo, RunsModel } from '../../model';
import { IRunSummary } from '../../tokens';
import { scrollToRow, visibleWindow } from '../../windowing';
import { useElementSize, useTicker } from '../hooks';
import { fractionWidths, HEADER_HEIGHT, ROW_HEIGHT, RunRow } from './RunRow';

export interface IRunsListProps {
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
  const [dropSide, setDropSide] = React.useState<'before' | 'after' | null>(
    null
  );
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
function RunsListView(props: IRunsListProps): JSX.Element {
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
    const el = viewportRef.current;
    // measured now: the size observer reports a resize (the toolbar above
    // wrapping once a selection adds counts to its buttons) a frame later
    const rowsHeight = el
      ? Math.max(0, el.clientHeight - HEADER_HEIGHT)
      : rowsViewport;
    const page = Math.max(1, Math.floor(rowsHeight / ROW_HEIGHT) - 1);
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
      if (el) {
        el.scrollTop = scrollToRow(idx, el.scrollTop, rowsHeight, ROW_HEIGHT);
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
        <span
          className="jp-mlops-cell jp-mlops-cell-select"
          role="columnheader"
        >
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
}

/** The runs list, windowed (re-rendered only when its props change). */
export const RunsList = React.memo(RunsListView);
