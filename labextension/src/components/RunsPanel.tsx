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
import { RunsModel } from '../model';
import { CommandIDs, RUN_STATUSES, RunStatus } from '../tokens';
import { useSignalRender } from './hooks';
import { ColumnChooser } from './runs/ColumnChooser';
import { RunsList } from './runs/RunsList';

// the list, its rows and the columns menu have files of their own
export { HEADER_HEIGHT, ROW_HEIGHT } from './runs/RunRow';

export interface IRunsPanelProps {
  controller: MLOpsController;
  onOpenRun: (runId: string) => void;
  onCompare: (runIds: string[]) => void;
  /** Persist the chosen columns (settings). */
  onColumnsChanged?: (columns: string[]) => void;
  /** Run a command of the extension (archive, restore, purge, export...). */
  onCommand?: (command: string, args?: { [key: string]: any }) => void;
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
    const next =
      text.slice(0, completion.from) + key + ' ' + text.slice(completion.to);
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
        className={
          'jp-mlops-filter jp-mlops-input' +
          (model.filterError ? ' jp-mlops-invalid' : '')
        }
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
          suggest(
            ev.target.value,
            ev.target.selectionStart ?? ev.target.value.length
          );
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
              className={
                'jp-mlops-suggestion' + (i === active ? ' jp-mod-active' : '')
              }
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
    // the keys stand for the model's (mutated) column lists
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [columnsKey, autoKey, orderKey, model]
  );
  const widthsKey = JSON.stringify(model.columnWidths);
  // eslint-disable-next-line react-hooks/exhaustive-deps
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
          className={
            'jp-mlops-button jp-mlops-columns-button' +
            (chooserOpen ? ' jp-mod-active' : '')
          }
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
              title={
                model.canCompare
                  ? 'Compare the selected runs'
                  : 'Select two or more runs to compare'
              }
              onClick={() => onCompare(model.selectedIds)}
            >
              Compare{selected.length ? ` (${selected.length})` : ''}
            </button>
          </>
        )}
      </div>
      <FilterBox model={model} text={filterText} onText={setFilterText} />
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
          <span
            className="jp-mlops-brush"
            title={`Brushed in the sweep view: ${model.brushLabel}`}
          >
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
