/**
 * Detail view of one run: params, tags, metric charts, captured source,
 * cell timeline, git, environment, artifacts, output; updates live.
 */
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { MLOpsController } from '../controller';
import { durationMs } from '../filter';
import {
  formatDateTime,
  formatDuration,
  formatNumber,
  metricOf
} from '../format';
import { ICellHint } from '../cells';
import { IChartOptions } from '../chart';
import {
  CommandIDs,
  ICellRecord,
  IMetricHistory,
  IRunDetail
} from '../tokens';
import { useTicker } from './hooks';
import {
  ChartControls,
  ChartSync,
  LineChart,
  useChartOptions
} from './LineChart';
import { ArtifactItem } from './ArtifactPreview';
import { Source } from './Source';
import { StatusBadge } from './StatusBadge';

export interface IRunDetailProps {
  runId: string;
  controller: MLOpsController;
  languages: IEditorLanguageRegistry | null;
  /** Open `path` and activate the cell matching `hint`. */
  onOpenNotebook: ((path: string, hint: ICellHint) => Promise<void>) | null;
  onOpenRun: (runId: string) => void;
  /** Called with the run name once known (tab title). */
  onTitle?: (title: string, status: string) => void;
  /** Run a command of the extension (rename, edit note, archive...). */
  onCommand?: (command: string, args: { [key: string]: any }) => void;
  /** Render Markdown into `host` (JupyterLab's renderer, sanitized). */
  renderMarkdown?: (markdown: string, host: HTMLElement) => Promise<void>;
  /**
   * Whether the tab is pinned: an unpinned detail tab is reused for the next
   * run opened; a pinned one keeps its run.
   */
  pinned?: boolean;
  /** Pin or unpin the tab (shows the pin button). */
  onTogglePin?: () => void;
}

/** The run's Markdown note, rendered by JupyterLab (or as text without a renderer). */
function Note(props: {
  note: string;
  render?: (markdown: string, host: HTMLElement) => Promise<void>;
}): JSX.Element {
  const host = React.useRef<HTMLDivElement>(null);
  const { note, render } = props;
  React.useEffect(() => {
    const el = host.current;
    if (!el || !render) {
      return;
    }
    el.textContent = '';
    render(note, el).catch(() => {
      el.textContent = note;
    });
  }, [note, render]);
  return (
    <div className="jp-mlops-note" ref={host} data-testid="mlops-note">
      {render ? null : <pre className="jp-mlops-note-text">{note}</pre>}
    </div>
  );
}

/** Tags with a remove button each, and a key/value form to add one. */
function TagEditor(props: {
  tags: { [key: string]: string };
  onEdit: (tags: { [key: string]: string | null }) => Promise<void>;
}): JSX.Element {
  const [key, setKey] = React.useState('');
  const [value, setValue] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const [problem, setProblem] = React.useState<string | null>(null);
  const apply = async (edit: { [key: string]: string | null }) => {
    setBusy(true);
    setProblem(null);
    try {
      await props.onEdit(edit);
      return true;
    } catch (e) {
      setProblem(String((e as Error)?.message ?? e));
      return false;
    } finally {
      setBusy(false);
    }
  };
  const keys = Object.keys(props.tags).sort();
  return (
    <div className="jp-mlops-tag-editor">
      {keys.length === 0 && <div className="jp-mlops-muted">No tags.</div>}
      {keys.length > 0 && (
        <table className="jp-mlops-kv jp-mlops-tags-table">
          <tbody>
            {keys.map(k => (
              <tr key={k} data-key={k}>
                <th title={k}>
                  {!k.startsWith('mlops.') && (
                    <button
                      className="jp-mlops-link-button jp-mlops-tag-remove"
                      title={`Remove tag ${k}`}
                      aria-label={`Remove tag ${k}`}
                      disabled={busy}
                      onClick={() => void apply({ [k]: null })}
                    >
                      ×
                    </button>
                  )}
                  {k}
                </th>
                <td title={props.tags[k]}>{props.tags[k]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        className="jp-mlops-tag-form"
        onSubmit={ev => {
          ev.preventDefault();
          const k = key.trim();
          if (k) {
            void apply({ [k]: value }).then(ok => {
              if (ok) {
                setKey('');
                setValue('');
              }
            });
          }
        }}
      >
        <input
          className="jp-mlops-input jp-mlops-tag-key"
          placeholder="tag"
          aria-label="New tag key"
          value={key}
          onChange={ev => setKey(ev.target.value)}
        />
        <input
          className="jp-mlops-input jp-mlops-tag-value"
          placeholder="value"
          aria-label="New tag value"
          value={value}
          onChange={ev => setValue(ev.target.value)}
        />
        <button
          type="submit"
          className="jp-mlops-button jp-mlops-tag-add"
          disabled={busy || !key.trim()}
        >
          Set tag
        </button>
      </form>
      {problem && (
        <div className="jp-mlops-error" role="alert">
          {problem}
        </div>
      )}
    </div>
  );
}

/** Points requested per chart: plenty for a ~500px wide SVG. */
export const CHART_MAX_POINTS = 1000;

function Section(props: {
  title: string;
  count?: number;
  className?: string;
  open?: boolean;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <details
      className={`jp-mlops-section ${props.className ?? ''}`}
      open={props.open ?? true}
    >
      <summary className="jp-mlops-section-title">
        {props.title}
        {props.count !== undefined && (
          <span className="jp-mlops-section-count">{props.count}</span>
        )}
      </summary>
      <div className="jp-mlops-section-body">{props.children}</div>
    </details>
  );
}

/** Above this many keys a key/value table flows into columns. */
const FLOW_KEYS = 8;

function KeyValueTable(props: {
  data: { [k: string]: unknown };
  className?: string;
  empty?: string;
}): JSX.Element {
  const keys = Object.keys(props.data).sort();
  if (!keys.length) {
    return <div className="jp-mlops-muted">{props.empty ?? 'none'}</div>;
  }
  // many keys (a metric per layer...) flow into columns, so the charts stay in reach
  const flow = keys.length > FLOW_KEYS ? ' jp-mlops-kv-flow' : '';
  return (
    <table className={`jp-mlops-kv${flow} ${props.className ?? ''}`}>
      <tbody>
        {keys.map(k => {
          const v = props.data[k];
          return (
            <tr key={k} data-key={k}>
              <th scope="row">{k}</th>
              <td>{typeof v === 'number' ? formatNumber(v) : v === null ? '—' : String(v)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** One metric's history chart; refetches when `version` changes. */
export function MetricChart(props: {
  controller: MLOpsController;
  runId: string;
  metricKey: string;
  version: number;
  options?: IChartOptions;
}): JSX.Element {
  const { controller, runId, metricKey, version } = props;
  const [history, setHistory] = React.useState<IMetricHistory | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    const abort = new AbortController();
    controller.client
      .metricHistory(runId, metricKey, CHART_MAX_POINTS, abort.signal)
      .then(h => {
        setHistory(h);
        setError(null);
      })
      .catch(e => {
        if (!abort.signal.aborted) {
          setError(String(e?.message ?? e));
        }
      });
    return () => abort.abort();
  }, [controller, runId, metricKey, version]);

  if (error) {
    return (
      <div className="jp-mlops-chart-container jp-mlops-error">
        {metricKey}: {error}
      </div>
    );
  }
  if (!history) {
    return (
      <div className="jp-mlops-chart-container jp-mlops-muted">
        {metricKey}: loading…
      </div>
    );
  }
  const nonfinite = history.nonfinite ? Object.keys(history.nonfinite).length : 0;
  const notes: string[] = [];
  if (history.total_points > history.values.length) {
    notes.push(`${history.values.length} of ${history.total_points} points`);
  }
  if (nonfinite) {
    notes.push(`${nonfinite} non-finite`);
  }
  const last = [...history.values].reverse().find(v => v !== null);
  return (
    <LineChart
      title={`${metricKey}${last !== undefined && last !== null ? ` = ${formatNumber(last)}` : ''}`}
      note={notes.length ? `(${notes.join(', ')})` : undefined}
      metricKey={metricKey}
      options={props.options}
      series={[
        {
          name: metricKey,
          x: history.steps,
          y: history.values,
          t: history.timestamps
        }
      ]}
    />
  );
}

function CellTimeline(props: {
  cells: ICellRecord[];
  languages: IEditorLanguageRegistry | null;
  onOpen: ((cell: ICellRecord) => void) | null;
}): JSX.Element {
  const { cells } = props;
  const [open, setOpen] = React.useState<number | null>(null);
  const maxDuration = Math.max(1, ...cells.map(c => c.duration_ms ?? 0));
  return (
    <ol className="jp-mlops-timeline">
      {cells.map(cell => {
        const first = cell.source.split('\n').find(l => l.trim()) ?? '';
        const isOpen = open === cell.position;
        return (
          <li
            key={cell.position}
            className={`jp-mlops-timeline-cell jp-mlops-cell-status-${cell.status}`}
            data-position={cell.position}
            data-execution-count={cell.execution_count ?? ''}
          >
            <div className="jp-mlops-timeline-row">
              <button
                className="jp-mlops-link-button jp-mlops-timeline-toggle"
                aria-expanded={isOpen}
                onClick={() => setOpen(isOpen ? null : cell.position)}
                title="Show the cell source"
              >
                {isOpen ? '▾' : '▸'}
              </button>
              <span className="jp-mlops-exec-count">
                [{cell.execution_count ?? ' '}]
              </span>
              <span className="jp-mlops-timeline-first" title={cell.source}>
                {first}
              </span>
              <span className="jp-mlops-timeline-bar-wrap" title={formatDuration(cell.duration_ms)}>
                <span
                  className="jp-mlops-timeline-bar"
                  style={{
                    width: `${Math.max(2, ((cell.duration_ms ?? 0) / maxDuration) * 100)}%`
                  }}
                />
              </span>
              <span className="jp-mlops-timeline-duration">
                {formatDuration(cell.duration_ms)}
              </span>
              <StatusBadge status={cell.status} />
              {props.onOpen && (
                <button
                  className="jp-mlops-link-button"
                  title="Open the notebook at this cell"
                  onClick={() => props.onOpen!(cell)}
                >
                  open
                </button>
              )}
            </div>
            {isOpen && (
              <Source code={cell.source} languages={props.languages} />
            )}
            {isOpen && cell.error && (
              <pre className="jp-mlops-traceback jp-mlops-cell-error">{cell.error}</pre>
            )}
          </li>
        );
      })}
    </ol>
  );
}

export function RunDetailView(props: IRunDetailProps): JSX.Element {
  const { runId, controller, onTitle } = props;
  const [run, setRun] = React.useState<IRunDetail | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [reloadCount, setReloadCount] = React.useState(0);
  const [metricVersions, setMetricVersions] = React.useState<{
    [key: string]: number;
  }>({});
  const [openError, setOpenError] = React.useState<string | null>(null);
  const [pkgFilter, setPkgFilter] = React.useState('');
  const [chartOptions, setChartOptions] = useChartOptions();

  // load, and reload when told (throttled by the live handlers below)
  React.useEffect(() => {
    const abort = new AbortController();
    controller.client
      .run(runId, abort.signal)
      .then(r => {
        setRun(r);
        setError(null);
        onTitle?.(r.name || r.run_id, r.status);
      })
      .catch(e => {
        if (!abort.signal.aborted) {
          setError(String(e?.message ?? e));
        }
      });
    return () => abort.abort();
  }, [controller, runId, reloadCount]);

  // live: summary changes and new metric points for this run
  React.useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const pendingKeys = new Set<string>();
    let reload = false;
    const flush = () => {
      timer = null;
      if (reload) {
        setReloadCount(c => c + 1);
        reload = false;
      }
      if (pendingKeys.size) {
        const keys = Array.from(pendingKeys);
        pendingKeys.clear();
        setMetricVersions(v => {
          const next = { ...v };
          for (const k of keys) {
            next[k] = (next[k] ?? 0) + 1;
          }
          return next;
        });
      }
    };
    const schedule = () => {
      if (timer === null) {
        timer = setTimeout(flush, 1000);
      }
    };
    const onRun = (_: unknown, summary: { run_id: string }) => {
      if (summary.run_id === runId) {
        reload = true;
        schedule();
      }
    };
    const onMetrics = (
      _: unknown,
      ev: { run_id: string; keys: string[] }
    ) => {
      if (ev.run_id === runId) {
        for (const k of ev.keys ?? []) {
          pendingKeys.add(k);
        }
        reload = true; // latest values and new keys
        schedule();
      }
    };
    controller.runChanged.connect(onRun);
    controller.metricsLogged.connect(onMetrics);
    return () => {
      controller.runChanged.disconnect(onRun);
      controller.metricsLogged.disconnect(onMetrics);
      if (timer !== null) {
        clearTimeout(timer);
      }
    };
  }, [controller, runId]);

  useTicker(run?.status === 'RUNNING', 1000);

  if (error && !run) {
    return (
      <div className="jp-mlops-run-detail jp-mlops-error" data-run-id={runId}>
        Cannot load run {runId}: {error}
      </div>
    );
  }
  if (!run) {
    return (
      <div className="jp-mlops-run-detail jp-mlops-muted" data-run-id={runId}>
        Loading run {runId}…
      </div>
    );
  }

  const openNotebook = props.onOpenNotebook;
  const lastCell = run.cells.length ? run.cells[run.cells.length - 1] : null;
  const runHint: ICellHint = {
    cell_id: run.cells.length === 1 ? run.cells[0].cell_id : lastCell?.cell_id,
    source: run.cells.length === 1 ? run.cells[0].source : run.source ?? lastCell?.source,
    execution_count: lastCell?.execution_count ?? null
  };
  const doOpen = async (hint: ICellHint) => {
    if (!openNotebook || !run.notebook_path) {
      return;
    }
    setOpenError(null);
    try {
      await openNotebook(run.notebook_path, hint);
    } catch (e) {
      setOpenError(String((e as Error)?.message ?? e));
    }
  };

  const metricKeys = Array.from(
    new Set([...(run.metric_keys ?? []), ...Object.keys(run.metrics ?? {})])
  ).sort();
  const archived = run.lifecycle_stage === 'deleted';
  const command = (id: string) => props.onCommand?.(id, { runId: run.run_id });
  const parentName = run.parent_run_id
    ? controller.model.getRun(run.parent_run_id)?.name || run.parent_run_id
    : null;
  const packages = run.environment?.packages ?? {};
  const pkgNames = Object.keys(packages)
    .filter(p => !pkgFilter || p.toLowerCase().includes(pkgFilter.toLowerCase()))
    .sort();

  return (
    <div
      className="jp-mlops-run-detail"
      data-run-id={run.run_id}
      data-status={run.status}
      data-lifecycle={run.lifecycle_stage ?? 'active'}
      data-testid="mlops-run-detail"
    >
      <header className="jp-mlops-detail-header">
        <h2 className="jp-mlops-detail-title">
          {run.name || run.run_id} <StatusBadge status={run.status} />
        </h2>
        {props.onCommand && (
          <div className="jp-mlops-detail-actions">
            {props.onTogglePin && (
              <button
                className={
                  'jp-mlops-button jp-mlops-pin-button' +
                  (props.pinned ? ' jp-mod-active' : '')
                }
                aria-pressed={!!props.pinned}
                title={
                  props.pinned
                    ? 'Pinned: this tab keeps this run. Click to let the next run opened reuse it'
                    : 'Pin this tab: the next run opened gets a tab of its own instead of reusing this one'
                }
                onClick={props.onTogglePin}
              >
                {props.pinned ? 'Pinned' : 'Pin'}
              </button>
            )}
            <button
              className="jp-mlops-button jp-mlops-rename-button"
              onClick={() => command(CommandIDs.renameRun)}
            >
              Rename…
            </button>
            <button
              className="jp-mlops-button jp-mlops-note-button"
              onClick={() => command(CommandIDs.editNote)}
            >
              {run.note ? 'Edit note…' : 'Add note…'}
            </button>
            {archived ? (
              <button
                className="jp-mlops-button jp-mlops-restore-button"
                onClick={() => command(CommandIDs.restoreRuns)}
              >
                Restore
              </button>
            ) : (
              <button
                className="jp-mlops-button jp-mlops-archive-button"
                title="Archive this run and its child runs (restorable)"
                onClick={() => command(CommandIDs.archiveRuns)}
              >
                Archive
              </button>
            )}
          </div>
        )}
        {archived && (
          <div className="jp-mlops-archived-banner" role="status">
            This run is archived: it is hidden from the runs list (see
            “Archived” there) until restored.
          </div>
        )}
        <dl className="jp-mlops-detail-meta">
          <dt>Run id</dt>
          <dd>
            <code className="jp-mlops-run-id">{run.run_id}</code>
          </dd>
          <dt>Experiment</dt>
          <dd>{run.experiment}</dd>
          <dt>Started</dt>
          <dd>{formatDateTime(run.start_time)}</dd>
          <dt>Duration</dt>
          <dd className="jp-mlops-duration">
            {formatDuration(durationMs(run))}
            {run.status === 'RUNNING' ? ' (running)' : ''}
          </dd>
          {run.parent_run_id && (
            <>
              <dt>Parent</dt>
              <dd>
                <button
                  className="jp-mlops-link-button jp-mlops-parent-link"
                  title={run.parent_run_id}
                  onClick={() => props.onOpenRun(run.parent_run_id!)}
                >
                  {parentName}
                </button>
              </dd>
            </>
          )}
          {run.notebook_path && (
            <>
              <dt>Notebook</dt>
              <dd>
                <code className="jp-mlops-notebook-path">{run.notebook_path}</code>
              </dd>
            </>
          )}
        </dl>
        {run.notebook_path && openNotebook && (
          <button
            className="jp-mlops-button jp-mod-accept jp-mlops-open-notebook"
            data-testid="mlops-open-notebook"
            onClick={() => void doOpen(runHint)}
          >
            Open notebook at this cell
          </button>
        )}
        {openError && (
          <div className="jp-mlops-error" role="alert">
            {openError}
          </div>
        )}
        {error && <div className="jp-mlops-error">{error}</div>}
      </header>

      {run.note && (
        <Section title="Note" className="jp-mlops-note-section">
          <Note note={run.note} render={props.renderMarkdown} />
        </Section>
      )}

      {run.error && (
        <Section title="Error" className="jp-mlops-run-error">
          <pre className="jp-mlops-traceback">{run.error}</pre>
        </Section>
      )}

      <Section title="Metrics" count={metricKeys.length} className="jp-mlops-metrics">
        {metricKeys.length === 0 ? (
          <div className="jp-mlops-muted">No metrics logged.</div>
        ) : (
          <>
            <KeyValueTable
              data={Object.fromEntries(
                Object.keys(run.metrics).map(k => [k, metricOf(run, k)])
              )}
              className="jp-mlops-metrics-table"
            />
            <ChartControls options={chartOptions} onChange={setChartOptions} />
            <ChartSync axis={chartOptions.xAxis}>
              <div className="jp-mlops-charts">
                {metricKeys.map(k => (
                  <MetricChart
                    key={k}
                    controller={controller}
                    runId={run.run_id}
                    metricKey={k}
                    version={metricVersions[k] ?? 0}
                    options={chartOptions}
                  />
                ))}
              </div>
            </ChartSync>
          </>
        )}
      </Section>

      <Section title="Parameters" count={Object.keys(run.params).length} className="jp-mlops-params">
        <KeyValueTable data={run.params} className="jp-mlops-params-table" empty="No parameters." />
      </Section>

      <Section title="Tags" count={Object.keys(run.tags).length} className="jp-mlops-tags" open={Object.keys(run.tags).length > 0}>
        <TagEditor
          tags={run.tags}
          onEdit={async tags => {
            const updated = await controller.edit(run.run_id, { tags });
            setRun(updated);
          }}
        />
      </Section>

      {run.source !== null && run.source !== undefined && (
        <Section title="Source" className="jp-mlops-source-section">
          <Source code={run.source} languages={props.languages} lineNumbers />
        </Section>
      )}

      {run.cells.length > 0 && (
        <Section title="Cell timeline" count={run.cells.length} className="jp-mlops-cells" open={run.cells.length > 1}>
          <CellTimeline
            cells={run.cells}
            languages={props.languages}
            onOpen={
              run.notebook_path && openNotebook
                ? cell =>
                    void doOpen({
                      cell_id: cell.cell_id,
                      source: cell.source,
                      execution_count: cell.execution_count
                    })
                : null
            }
          />
        </Section>
      )}

      {run.stdout && (
        <Section title="Output (tail)" className="jp-mlops-stdout" open={false}>
          <pre className="jp-mlops-pre">{run.stdout}</pre>
        </Section>
      )}

      <Section title="Artifacts" count={run.artifacts.length} className="jp-mlops-artifacts" open={run.artifacts.length > 0}>
        {run.artifacts.length === 0 ? (
          <div className="jp-mlops-muted">No artifacts.</div>
        ) : (
          <ul className="jp-mlops-artifact-list">
            {run.artifacts.map(a => (
              <ArtifactItem
                key={a.path}
                client={controller.client}
                runId={run.run_id}
                artifact={a}
              />
            ))}
          </ul>
        )}
      </Section>

      {run.git && (
        <Section title="Git" className="jp-mlops-git" open={false}>
          <KeyValueTable
            data={{
              commit: run.git.commit,
              branch: run.git.branch,
              dirty: run.git.dirty ? 'yes (uncommitted changes)' : 'no'
            }}
          />
          {run.git.diff && (
            <details className="jp-mlops-diff">
              <summary>Uncommitted diff</summary>
              <Source code={run.git.diff} language="diff" languages={props.languages} />
            </details>
          )}
        </Section>
      )}

      {run.environment && (
        <Section title="Environment" className="jp-mlops-environment" open={false}>
          <KeyValueTable
            data={{
              python: run.environment.python,
              platform: run.environment.platform,
              host: run.environment.host,
              user: run.environment.user,
              pid: run.environment.pid
            }}
          />
          <details className="jp-mlops-packages">
            <summary>Packages ({Object.keys(packages).length})</summary>
            <input
              className="jp-mlops-input"
              placeholder="Find a package…"
              value={pkgFilter}
              onChange={ev => setPkgFilter(ev.target.value)}
            />
            <table className="jp-mlops-kv">
              <tbody>
                {pkgNames.slice(0, 500).map(p => (
                  <tr key={p}>
                    <th scope="row">{p}</th>
                    <td>{packages[p]}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        </Section>
      )}

      {run.children.length > 0 && (
        <Section title="Child runs" count={run.children.length} className="jp-mlops-children">
          {run.children.length >= 2 && props.onCommand && (
            <button
              className="jp-mlops-button jp-mlops-compare-children"
              title="Compare the child runs (folds, steps) side by side"
              onClick={() =>
                props.onCommand?.(CommandIDs.compareSelected, {
                  runIds: run.children.slice(0, 100)
                })
              }
            >
              Compare children ({Math.min(run.children.length, 100)})
            </button>
          )}
          <ul className="jp-mlops-children-list">
            {run.children.map(id => {
              const child = controller.model.getRun(id);
              return (
                <li key={id}>
                  <button className="jp-mlops-link-button" onClick={() => props.onOpenRun(id)}>
                    {child?.name || id}
                  </button>{' '}
                  {child && <StatusBadge status={child.status} />}
                </li>
              );
            })}
          </ul>
        </Section>
      )}
    </div>
  );
}

/** Lumino widget wrapping the detail view (put in a MainAreaWidget). */
export class RunDetailWidget extends ReactWidget {
  constructor(private _props: IRunDetailProps) {
    super();
    this.addClass('jp-mlops-run-detail-widget');
  }

  get runId(): string {
    return this._props.runId;
  }

  /** Show another run in this view (the reused, unpinned detail tab). */
  set runId(value: string) {
    if (value !== this._props.runId) {
      this._props = { ...this._props, runId: value };
      this.update();
    }
  }

  /** A pinned tab keeps its run; an unpinned one is reused by the next run opened. */
  get pinned(): boolean {
    return !!this._props.pinned;
  }

  set pinned(value: boolean) {
    if (value !== !!this._props.pinned) {
      this._props = { ...this._props, pinned: value };
      this.update();
    }
  }

  render(): JSX.Element {
    // a fresh view (state, requests) for each run shown
    return <RunDetailView key={this._props.runId} {...this._props} />;
  }
}
