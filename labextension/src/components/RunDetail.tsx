/**
 * Detail view of one run: params, tags, metric charts, captured source,
 * cell timeline, git, environment, artifacts, output; updates live.
 */
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { MLOpsController } from '../controller';
import { ICellHint } from '../cells';
import { useTicker } from './hooks';
import { ArtifactsSection } from './detail/Artifacts';
import { CellTimeline } from './detail/CellTimeline';
import { ChildrenSection } from './detail/Children';
import { EnvironmentSection } from './detail/Environment';
import { GitSection } from './detail/Git';
import { DetailHeader } from './detail/Header';
import { MetricsSection } from './detail/Metrics';
import { Note } from './detail/Note';
import { KeyValueTable, Section } from './detail/Section';
import { TagEditor } from './detail/TagEditor';
import { useRunDetail } from './detail/useRunDetail';
import { Source } from './Source';

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

// the sections and the chart of one metric have files of their own
export { CHART_MAX_POINTS, MetricChart } from './detail/MetricChart';

/** The detail view of one run: its header and sections, kept current. */
export function RunDetailView(props: IRunDetailProps): JSX.Element {
  const { runId, controller, onTitle } = props;
  const { run, error, metricVersions, setRun } = useRunDetail(
    controller,
    runId,
    onTitle
  );
  const [openError, setOpenError] = React.useState<string | null>(null);

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
    source:
      run.cells.length === 1
        ? run.cells[0].source
        : (run.source ?? lastCell?.source),
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

  return (
    <div
      className="jp-mlops-run-detail"
      data-run-id={run.run_id}
      data-status={run.status}
      data-lifecycle={run.lifecycle_stage ?? 'active'}
      data-testid="mlops-run-detail"
    >
      <DetailHeader
        run={run}
        controller={controller}
        pinned={props.pinned}
        onTogglePin={props.onTogglePin}
        onCommand={props.onCommand}
        onOpenRun={props.onOpenRun}
        onOpenNotebook={
          run.notebook_path && openNotebook ? () => void doOpen(runHint) : null
        }
        openError={openError}
        error={error}
      />

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

      <MetricsSection
        run={run}
        controller={controller}
        metricVersions={metricVersions}
      />

      <Section
        title="Parameters"
        count={Object.keys(run.params).length}
        className="jp-mlops-params"
      >
        <KeyValueTable
          data={run.params}
          className="jp-mlops-params-table"
          empty="No parameters."
        />
      </Section>

      <Section
        title="Tags"
        count={Object.keys(run.tags).length}
        className="jp-mlops-tags"
        open={Object.keys(run.tags).length > 0}
      >
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
        <Section
          title="Cell timeline"
          count={run.cells.length}
          className="jp-mlops-cells"
          open={run.cells.length > 1}
        >
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

      <ArtifactsSection run={run} controller={controller} />

      {run.git && <GitSection git={run.git} languages={props.languages} />}

      {run.environment && <EnvironmentSection environment={run.environment} />}

      {run.children.length > 0 && (
        <ChildrenSection
          run={run}
          controller={controller}
          onCommand={props.onCommand}
          onOpenRun={props.onOpenRun}
        />
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
