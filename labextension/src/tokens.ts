/**
 * Public types and the DI token of the jupyter-mlops JupyterLab extension.
 *
 * The wire types mirror `jupyter_mlops/server/openapi.yaml` (the source of
 * truth for the REST contract).
 */
import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

/** Lifecycle stage (MLflow's vocabulary): `deleted` means archived (restorable). */
export type LifecycleStage = 'active' | 'deleted';

/** Run statuses (MLflow's vocabulary). */
export type RunStatus = 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED';

export const RUN_STATUSES: ReadonlyArray<RunStatus> = [
  'RUNNING',
  'FINISHED',
  'FAILED',
  'KILLED'
];

export interface IExperiment {
  experiment_id: string;
  name: string;
  creation_time: number;
  run_count: number;
}

/** One row of the runs list (`GET runs`, SSE `run_created`/`run_updated`). */
export interface IRunSummary {
  run_id: string;
  name: string;
  experiment: string;
  experiment_id: string;
  status: RunStatus;
  start_time: number;
  end_time: number | null;
  parent_run_id: string | null;
  notebook_path: string | null;
  params: { [key: string]: string };
  metrics: { [key: string]: number | null };
  tags: { [key: string]: string };
  last_update_time: number;
  /** `deleted` once archived; absent from servers older than schema 0003. */
  lifecycle_stage?: LifecycleStage;
  /** Which non-finite value a `null` of `metrics` stands for (only when one is). */
  nonfinite_metrics?: { [key: string]: 'NaN' | 'Infinity' | '-Infinity' };
}

export interface ICellRecord {
  position: number;
  execution_count: number | null;
  source: string;
  start_time: number;
  duration_ms: number | null;
  status: string;
  cell_id: string | null;
  /** Traceback or error line of a failed cell. */
  error?: string | null;
}

export interface IGitInfo {
  commit: string | null;
  branch: string | null;
  dirty: boolean;
  diff: string | null;
}

export interface IEnvironmentInfo {
  python: string | null;
  platform: string | null;
  host: string | null;
  user: string | null;
  pid: number | null;
  packages: { [name: string]: string };
}

export interface IArtifact {
  path: string;
  size: number | null;
}

/** `GET runs/{run_id}`. */
export interface IRunDetail extends IRunSummary {
  /** The user's Markdown note. */
  note?: string | null;
  source: string | null;
  cells: ICellRecord[];
  git: IGitInfo | null;
  environment: IEnvironmentInfo | null;
  artifacts: IArtifact[];
  stdout: string | null;
  error: string | null;
  metric_keys: string[];
  children: string[];
}

export interface IRunList {
  runs: IRunSummary[];
  total: number;
  offset: number;
  limit: number;
}

/** `GET runs/{run_id}/metrics/{key}`. */
export interface IMetricHistory {
  key: string;
  steps: number[];
  timestamps: number[];
  values: Array<number | null>;
  nonfinite?: { [index: string]: 'NaN' | 'Infinity' | '-Infinity' };
  total_points: number;
}

/** `GET compare`. */
export interface IComparison {
  runs: IRunSummary[];
  params: { [key: string]: { [runId: string]: string } };
  metrics: { [key: string]: { [runId: string]: number | null } };
  differing_params: string[];
}

/** SSE `metrics` event payload. */
export interface IMetricsEvent {
  run_id: string;
  keys: string[];
  last_update_time: number;
}

/** Query of `GET runs`. */
export interface IRunQuery {
  experiment?: string;
  status?: RunStatus;
  filter?: string;
  search?: string;
  order_by?: string;
  limit?: number;
  offset?: number;
  parent?: string;
  /** Lifecycle stage to list (default `active`: archived runs are hidden). */
  lifecycle?: LifecycleStage | 'all';
}

/** `PATCH runs/{run_id}`: only the fields given change; a `null` tag is removed. */
export interface IRunEdit {
  name?: string;
  note?: string | null;
  tags?: { [key: string]: string | null };
}

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
