/**
 * Glue between the REST client, the event stream and the runs model:
 * (re)loading, batching live events, refreshing stale metric values, and
 * fallback polling when live updates are off or the stream is down.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { MLOpsClient, MLOpsRequestError } from './api';
import { EventSourceFactory, MLOpsEvents } from './events';
import { RunsModel } from './model';
import {
  DEFAULT_SETTINGS,
  IExperiment,
  IMetricsEvent,
  IMLOpsSettings,
  IRunDetail,
  IRunEdit,
  IRunSummary,
  LifecycleStage
} from './tokens';

/** How the list is kept up to date. */
export type LiveState = 'live' | 'connecting' | 'polling' | 'off';

interface ILoadedQuery {
  lifecycle: string;
  experiment: string | null;
  status: string | null;
  filter: string | undefined;
  search: string | undefined;
  orderBy: string;
  complete: boolean;
}

/** A failure worth retrying: server unreachable (0), or a 5xx (store away). */
function isTransient(error: unknown): boolean {
  return (
    error instanceof MLOpsRequestError &&
    (error.status === 0 || error.status >= 500)
  );
}

/** The summary part of a run detail (what the runs list holds). */
export function summaryOf(run: IRunDetail): IRunSummary {
  return {
    run_id: run.run_id,
    name: run.name,
    experiment: run.experiment,
    experiment_id: run.experiment_id,
    status: run.status,
    start_time: run.start_time,
    end_time: run.end_time,
    parent_run_id: run.parent_run_id,
    notebook_path: run.notebook_path,
    params: run.params,
    metrics: run.metrics,
    tags: run.tags,
    last_update_time: run.last_update_time,
    lifecycle_stage: run.lifecycle_stage,
    cell_id: run.cell_id,
    kind: run.kind,
    user: run.user,
    host: run.host,
    ...(run.nonfinite_metrics
      ? { nonfinite_metrics: run.nonfinite_metrics }
      : {})
  };
}

export class MLOpsController implements IDisposable {
  constructor(options: MLOpsController.IOptions) {
    this.client = options.client;
    this.model = options.model;
    this._eventsFactory = options.eventSourceFactory;
    this.model.changed.connect(this._onModelChanged, this);
  }

  readonly client: MLOpsClient;
  readonly model: RunsModel;

  get settings(): IMLOpsSettings {
    return this._settings;
  }

  get experiments(): IExperiment[] {
    return this._experiments;
  }

  get experimentsChanged(): ISignal<this, IExperiment[]> {
    return this._experimentsChanged;
  }

  /** A run was created/updated (live event, or a refresh). */
  get runChanged(): ISignal<this, IRunSummary> {
    return this._runChanged;
  }

  /** New metric points were logged for a run. */
  get metricsLogged(): ISignal<this, IMetricsEvent> {
    return this._metricsLogged;
  }

  get liveState(): LiveState {
    return this._liveState;
  }

  get liveStateChanged(): ISignal<this, LiveState> {
    return this._liveStateChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Apply (new) settings: live updates, polling interval, columns... */
  configure(settings: Partial<IMLOpsSettings>): void {
    const prev = this._settings;
    this._settings = { ...DEFAULT_SETTINGS, ...prev, ...settings };
    const s = this._settings;
    if (settings.columns !== undefined) {
      this.model.columns = s.columns;
    }
    if (
      settings.defaultExperiment !== undefined &&
      settings.defaultExperiment !== prev.defaultExperiment &&
      !this._started
    ) {
      this.model.experiment = s.defaultExperiment || null;
    }
    if (this._started) {
      this._setupLive();
      if (s.maxRuns !== prev.maxRuns) {
        void this.reload(); // more (or fewer) runs to load: the list must show it
      }
    }
  }

  /** Load the list and open the live stream. */
  async start(): Promise<void> {
    if (this._started) {
      return;
    }
    this._started = true;
    this._setupLive();
    await this.reload();
  }

  /** Reload experiments and runs from the server. */
  async reload(): Promise<void> {
    if (this._retryTimer !== null) {
      clearTimeout(this._retryTimer);
      this._retryTimer = null;
    }
    this._abort?.abort();
    const abort = new AbortController();
    this._abort = abort;
    const model = this.model;
    const query = {
      experiment: model.experiment ?? undefined,
      status: model.statusFilter ?? undefined,
      filter: model.serverFilter,
      search: model.serverSearch,
      order_by: model.serverOrderBy,
      lifecycle: model.serverLifecycle
    };
    model.loading = true;
    try {
      void this._loadExperiments();
      let first = true;
      const { runs, total } = await this.client.allRuns(
        query,
        this._settings.maxRuns,
        (page, pageTotal) => {
          if (abort.signal.aborted) {
            return;
          }
          if (first) {
            model.setRuns(page, pageTotal);
            first = false;
          } else {
            model.mergeRuns(page, pageTotal);
          }
        },
        abort.signal
      );
      if (abort.signal.aborted) {
        return;
      }
      if (first) {
        model.setRuns(runs, total);
      }
      this._loaded = {
        lifecycle: query.lifecycle,
        experiment: model.experiment,
        status: model.statusFilter,
        filter: query.filter,
        search: query.search,
        orderBy: query.order_by,
        complete: runs.length >= total
      };
      model.error = null;
      this._retryDelay = 0;
    } catch (error) {
      if ((error as any)?.name === 'AbortError' || abort.signal.aborted) {
        return;
      }
      model.error =
        error instanceof MLOpsRequestError
          ? error.message
          : String((error as Error)?.message ?? error);
      if (isTransient(error)) {
        this._scheduleRetry();
      }
    } finally {
      if (this._abort === abort) {
        model.loading = false;
        this._abort = null;
      }
    }
  }

  /**
   * Light refresh used by polling: the newest page plus the RUNNING runs,
   * merged into the list (no full reload).
   */
  async poll(): Promise<void> {
    if (this.model.loading) {
      return;
    }
    try {
      const page = await this.client.runs({
        experiment: this.model.experiment ?? undefined,
        order_by: 'start_time DESC',
        limit: 200
      });
      this._mergeAndEmit(page.runs);
      const running = this.model.runs
        .filter(r => r.status === 'RUNNING')
        .map(r => r.run_id)
        .slice(0, 100);
      if (running.length) {
        const cmp = await this.client.compare(running);
        this._mergeAndEmit(cmp.runs);
      }
      this.model.error = null;
    } catch (error) {
      this.model.error = String((error as Error)?.message ?? error);
    }
  }

  // ------------------------------------------------------ run management

  /** Archive runs (with their child runs); returns the ids archived now. */
  async archive(runIds: string[]): Promise<string[]> {
    const changed = await this.client.archiveRuns(runIds);
    this._setLifecycle(changed, 'deleted');
    this._reloadIfLoading();
    return changed;
  }

  /** Restore archived runs (with their child runs); returns the ids restored. */
  async restore(runIds: string[]): Promise<string[]> {
    const changed = await this.client.restoreRuns(runIds);
    this._setLifecycle(changed, 'active');
    this._reloadIfLoading();
    return changed;
  }

  /** Delete archived runs for good; returns every id deleted (children too). */
  async purge(runIds: string[]): Promise<string[]> {
    const deleted: string[] = [];
    for (const id of runIds) {
      if (!deleted.includes(id)) {
        deleted.push(...(await this.client.purgeRun(id)));
      }
    }
    this.model.removeRuns(deleted);
    this._reloadIfLoading();
    return deleted;
  }

  /**
   * A load under way when runs changed was answered before the change: its
   * pages would bring the old state back (a purged run in the list for good),
   * so it starts again.
   */
  private _reloadIfLoading(): void {
    if (this._abort !== null) {
      void this.reload();
    }
  }

  /** Rename a run, edit its note or tags; the list shows the result at once. */
  async edit(runId: string, edit: IRunEdit): Promise<IRunDetail> {
    const detail = await this.client.editRun(runId, edit);
    this._mergeAndEmit([summaryOf(detail)]);
    return detail;
  }

  private _setLifecycle(runIds: string[], stage: LifecycleStage): void {
    this.model.setLifecycle(runIds, stage);
    for (const id of runIds) {
      const run = this.model.getRun(id);
      if (run) {
        this._runChanged.emit(run); // open detail views reload
      }
    }
  }

  /** Feed a live run event (exposed for tests and other sources). */
  handleRunEvent(run: IRunSummary): void {
    this._pendingRuns.set(run.run_id, run);
    if (this._flushTimer === null) {
      this._flushTimer = setTimeout(() => this._flushRuns(), 150);
    }
  }

  /** Feed a live metrics event. */
  handleMetricsEvent(event: IMetricsEvent): void {
    this._metricsLogged.emit(event);
    if (this.model.applyMetricsEvent(event) && this._staleTimer === null) {
      this._staleTimer = setTimeout(() => void this._refreshStale(), 1500);
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._abort?.abort();
    this._events?.dispose();
    this._events = null;
    for (const t of [
      this._flushTimer,
      this._staleTimer,
      this._reloadTimer,
      this._retryTimer,
      this._experimentsTimer
    ]) {
      if (t !== null) {
        clearTimeout(t);
      }
    }
    if (this._pollTimer !== null) {
      clearInterval(this._pollTimer);
    }
    Signal.clearData(this);
  }

  /**
   * Load again later (2 s, 4 s, ... 30 s) after a load the server or the
   * store could not answer: the list must not stay partial, or empty, with a
   * stale error once they are back.
   */
  private _scheduleRetry(): void {
    if (this._isDisposed || this._retryTimer !== null) {
      return;
    }
    this._retryDelay = Math.min(30_000, Math.max(2000, this._retryDelay * 2));
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      if (!this._isDisposed) {
        void this.reload();
      }
    }, this._retryDelay);
  }

  private async _loadExperiments(): Promise<void> {
    try {
      const experiments = await this.client.experiments();
      this._experiments = experiments;
      this._experimentsChanged.emit(experiments);
    } catch {
      // reported by the runs request
    }
  }

  private _flushRuns(): void {
    this._flushTimer = null;
    const runs = Array.from(this._pendingRuns.values());
    this._pendingRuns.clear();
    this._mergeAndEmit(runs);
  }

  private _mergeAndEmit(runs: IRunSummary[]): void {
    if (!runs.length) {
      return;
    }
    const known = new Set(this._experiments.map(e => e.name));
    const fresh = runs.some(r => !this.model.getRun(r.run_id));
    this.model.mergeRuns(runs);
    let reloaded = false;
    for (const run of runs) {
      this._runChanged.emit(run);
      if (run.experiment && !known.has(run.experiment)) {
        known.add(run.experiment);
        reloaded = true;
        void this._loadExperiments();
      }
    }
    if (fresh && !reloaded && this._experimentsTimer === null) {
      // the experiment picker's run counts: at most one request every 3 s
      this._experimentsTimer = setTimeout(() => {
        this._experimentsTimer = null;
        void this._loadExperiments();
      }, 3000);
    }
  }

  private async _refreshStale(): Promise<void> {
    this._staleTimer = null;
    const ids = this.model.takeStaleRuns(100);
    if (!ids.length) {
      return;
    }
    try {
      const cmp = await this.client.compare(ids);
      this._mergeAndEmit(cmp.runs);
    } catch {
      // the next event or poll retries
    }
    if (this.model.staleRuns.length && this._staleTimer === null) {
      this._staleTimer = setTimeout(() => void this._refreshStale(), 1500);
    }
  }

  private _setupLive(): void {
    const s = this._settings;
    if (s.liveUpdates) {
      if (!this._events) {
        this._events = new MLOpsEvents({
          url: this.client.eventsUrl(),
          factory: this._eventsFactory
        });
        this._events.runEvent.connect((_, ev) => this.handleRunEvent(ev.run));
        this._events.metricsEvent.connect((_, ev) =>
          this.handleMetricsEvent(ev)
        );
        this._events.connectedChanged.connect((_, connected) => {
          this._updateLiveState();
          if (connected && this._wasDisconnected) {
            // catch up on what happened while the stream was down (all of it
            // when the last load failed)
            void (this._retryTimer !== null ? this.reload() : this.poll());
          }
          this._wasDisconnected = !connected;
        });
        this._events.start();
      }
    } else if (this._events) {
      this._events.dispose();
      this._events = null;
    }
    this._updateLiveState();
  }

  private _updateLiveState(): void {
    const s = this._settings;
    const live = s.liveUpdates && !!this._events?.connected;
    const wantPoll = !live && s.refreshIntervalSeconds > 0;
    if (
      this._pollTimer !== null &&
      (!wantPoll || this._pollInterval !== s.refreshIntervalSeconds)
    ) {
      clearInterval(this._pollTimer);
      this._pollTimer = null;
    }
    if (wantPoll && this._pollTimer === null) {
      this._pollInterval = s.refreshIntervalSeconds;
      this._pollTimer = setInterval(
        () => void this.poll(),
        s.refreshIntervalSeconds * 1000
      );
    }
    const state: LiveState = live
      ? 'live'
      : wantPoll
        ? 'polling'
        : s.liveUpdates
          ? 'connecting'
          : 'off';
    if (state !== this._liveState) {
      this._liveState = state;
      this._liveStateChanged.emit(state);
    }
  }

  private _onModelChanged(_: RunsModel, kind: string): void {
    if (kind !== 'filter' && kind !== 'sort') {
      return;
    }
    if (!this._started || !this._needsReload()) {
      return;
    }
    if (this._reloadTimer !== null) {
      clearTimeout(this._reloadTimer);
    }
    this._reloadTimer = setTimeout(() => {
      this._reloadTimer = null;
      void this.reload();
    }, 350);
  }

  /**
   * Whether the loaded runs cannot answer the current filters client-side:
   * another experiment, or a partial load (over `maxRuns`, or loaded with a
   * server-side filter that differs from the current one).
   */
  private _needsReload(): boolean {
    const m = this.model;
    const l = this._loaded;
    if (!l || l.lifecycle !== m.serverLifecycle) {
      return true;
    }
    if (l.experiment !== null && m.experiment !== l.experiment) {
      return true;
    }
    const unfiltered = !l.filter && !l.search && l.status === null;
    if (l.complete && unfiltered) {
      return false;
    }
    return (
      m.experiment !== l.experiment ||
      m.statusFilter !== l.status ||
      m.serverFilter !== l.filter ||
      m.serverSearch !== l.search ||
      (!l.complete && m.serverOrderBy !== l.orderBy)
    );
  }

  private _settings: IMLOpsSettings = { ...DEFAULT_SETTINGS };
  private _eventsFactory: EventSourceFactory | undefined;
  private _events: MLOpsEvents | null = null;
  private _experiments: IExperiment[] = [];
  private _started = false;
  private _isDisposed = false;
  private _abort: AbortController | null = null;
  private _loaded: ILoadedQuery | null = null;
  private _pendingRuns = new Map<string, IRunSummary>();
  private _flushTimer: ReturnType<typeof setTimeout> | null = null;
  private _staleTimer: ReturnType<typeof setTimeout> | null = null;
  private _reloadTimer: ReturnType<typeof setTimeout> | null = null;
  private _pollTimer: ReturnType<typeof setInterval> | null = null;
  private _retryTimer: ReturnType<typeof setTimeout> | null = null;
  private _experimentsTimer: ReturnType<typeof setTimeout> | null = null;
  private _retryDelay = 0;
  private _pollInterval = 0;
  private _wasDisconnected = false;
  private _liveState: LiveState = 'off';
  private _experimentsChanged = new Signal<this, IExperiment[]>(this);
  private _runChanged = new Signal<this, IRunSummary>(this);
  private _metricsLogged = new Signal<this, IMetricsEvent>(this);
  private _liveStateChanged = new Signal<this, LiveState>(this);
}

export namespace MLOpsController {
  export interface IOptions {
    client: MLOpsClient;
    model: RunsModel;
    eventSourceFactory?: EventSourceFactory;
  }
}
