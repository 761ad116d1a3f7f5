import * as React from 'react';

import { MLOpsController } from '../../controller';
import { durationMs } from '../../filter';
import { formatDateTime, formatDuration } from '../../format';
import { CommandIDs, IRunDetail } from '../../tokens';
import { StatusBadge } from '../StatusBadge';

/** The detail view's header: title, actions, the run's facts, open notebook. */
export function DetailHeader(props: {
  run: IRunDetail;
  controller: MLOpsController;
  pinned?: boolean;
  onTogglePin?: () => void;
  onCommand?: (command: string, args: { [key: string]: any }) => void;
  onOpenRun: (runId: string) => void;
  /** Open the notebook at the run's cell (null: no notebook to open). */
  onOpenNotebook: (() => void) | null;
  openError: string | null;
  error: string | null;
}): JSX.Element {
  const { run, controller, openError, error } = props;
  const archived = run.lifecycle_stage === 'deleted';
  const command = (id: string) => props.onCommand?.(id, { runId: run.run_id });
  const parentName = run.parent_run_id
    ? controller.model.getRun(run.parent_run_id)?.name || run.parent_run_id
    : null;
  return (
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
          This run is archived: it is hidden from the runs list (see “Archived”
          there) until restored.
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
              <code className="jp-mlops-notebook-path">
                {run.notebook_path}
              </code>
            </dd>
          </>
        )}
      </dl>
      {props.onOpenNotebook && (
        <button
          className="jp-mlops-button jp-mod-accept jp-mlops-open-notebook"
          data-testid="mlops-open-notebook"
          onClick={props.onOpenNotebook}
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
  );
}
