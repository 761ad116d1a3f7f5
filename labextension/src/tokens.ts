/**
 * Public types and the DI token of the jupyter-mlops JupyterLab extension.
 *
 * The wire types are the schemas of `jupyter_mlops/server/openapi.yaml` (the
 * source of truth for the REST contract), generated into `openapi.d.ts` by
 * `jlpm gen:types`; a jest test fails when that file is stale.
 */
import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

import type { components, operations } from './openapi';

/** The REST contract's schemas, generated from openapi.yaml (`jlpm gen:types`). */
type Schemas = components['schemas'];

/** Lifecycle stage (MLflow's vocabulary): `deleted` means archived (restorable). */
export type LifecycleStage = Schemas['LifecycleStage'];

/** Run statuses (MLflow's vocabulary). */
export type RunStatus = Schemas['RunStatus'];

export const RUN_STATUSES: ReadonlyArray<RunStatus> = [
  'RUNNING',
  'FINISHED',
  'FAILED',
  'KILLED'
];

export type IExperiment = Schemas['Experiment'];

/** One row of the runs list (`GET runs`, SSE `run_created`/`run_updated`). */
export type IRunSummary = Schemas['RunSummary'];

export type ICellRecord = Schemas['CellRecord'];

export type IGitInfo = Schemas['GitInfo'];

export type IEnvironmentInfo = Schemas['Environment'];

export type IArtifact = Schemas['Artifact'];

/** `GET runs/{run_id}`. */
export type IRunDetail = Schemas['RunDetail'];

/** `GET runs`. */
export type IRunList = Schemas['RunList'];

/** `GET runs/{run_id}/metrics/{key}`. */
export type IMetricHistory = Schemas['MetricHistory'];

/** `GET compare`. */
export type IComparison = Schemas['Comparison'];

/** SSE `metrics` event payload. */
export type IMetricsEvent = Schemas['MetricsEvent'];

/** Query of `GET runs` (its parameters in openapi.yaml). */
export type IRunQuery = NonNullable<
  operations['listRuns']['parameters']['query']
>;

/** `PATCH runs/{run_id}`: only the fields given change; a `null` tag is removed. */
export type IRunEdit = Schemas['RunEdit'];

/** Settings of the `jupyter-mlops:plugin` plugin (schema/plugin.json). */
export interface IMLOpsSettings {
  defaultExperiment: string;
  liveUpdates: boolean;
  refreshIntervalSeconds: number;
  maxRuns: number;
  columns: string[];
}

export const DEFAULT_SETTINGS: IMLOpsSettings = {
  defaultExperiment: '',
  liveUpdates: true,
  refreshIntervalSeconds: 30,
  maxRuns: 10000,
  columns: []
};

/** Service other extensions can require to talk to jupyter-mlops. */
export interface IMLOps {
  /** Open (or reveal) the detail view of a run in the main area. */
  openRun(runId: string): Promise<void>;
  /** Open the compare view of the given runs. */
  compare(runIds: string[]): Promise<void>;
  /** Reload the runs list from the server. */
  refresh(): Promise<void>;
  /** Emitted whenever a run is created or updated (live events or refresh). */
  readonly runChanged: ISignal<IMLOps, IRunSummary>;
}

export const IMLOps = new Token<IMLOps>(
  'jupyter-mlops:IMLOps',
  'Tracked runs of jupyter-mlops: open a run, compare runs, refresh.'
);

/** Ids used by the extension (commands, widgets). */
export namespace CommandIDs {
  export const openSidebar = 'jupyter-mlops:open-sidebar';
  export const refresh = 'jupyter-mlops:refresh';
  export const compareSelected = 'jupyter-mlops:compare-selected';
  export const openRun = 'jupyter-mlops:open-run';
  export const archiveRuns = 'jupyter-mlops:archive-runs';
  export const restoreRuns = 'jupyter-mlops:restore-runs';
  export const purgeRuns = 'jupyter-mlops:purge-runs';
  export const renameRun = 'jupyter-mlops:rename-run';
  export const editNote = 'jupyter-mlops:edit-note';
  export const exportCsv = 'jupyter-mlops:export-csv';
  export const toggleArchived = 'jupyter-mlops:toggle-archived';
  export const copyRunId = 'jupyter-mlops:copy-run-id';
  export const openSweep = 'jupyter-mlops:open-sweep';
}

export const PLUGIN_ID = 'jupyter-mlops:plugin';
export const SIDEBAR_ID = 'jupyter-mlops:sidebar';
