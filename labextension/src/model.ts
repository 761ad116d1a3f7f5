/**
 * State of the runs list: the loaded runs, the filter box, the status and
 * experiment filters, sorting, the chosen columns and the selection used by
 * the compare view, plus the live merge of server events.
 *
 * Pure logic (no DOM, no network): the panel renders `visibleRuns` and the
 * plugin feeds `setRuns` / `mergeRuns` / `applyMetricsEvent`.
 */
import { ISignal, Signal } from '@lumino/signaling';

import {
  FilterSyntaxError,
  IFilterClause,
  looksLikeExpression,
  matchAll,
  normalizeKey,
  parseFilter,
  runValue
} from './filter';
import {
  IMetricsEvent,
  IRunSummary,
  LifecycleStage,
  RunStatus
} from './tokens';

export type SortDirection = 'asc' | 'desc';

export interface ISortSpec {
  key: string;
  direction: SortDirection;
}

export type ColumnKind = 'attribute' | 'param' | 'metric' | 'tag';

export interface IColumnInfo {
  key: string;
  label: string;
  kind: ColumnKind;
  /** Shown because the filter or the sort names it (not chosen by the user). */
  auto?: boolean;
}

/** Columns always shown, in order. */
export const BASE_COLUMNS: ReadonlyArray<IColumnInfo> = [
  { key: 'status', label: 'Status', kind: 'attribute' },
  { key: 'name', label: 'Name', kind: 'attribute' },
  { key: 'start_time', label: 'Started', kind: 'attribute' },
  { key: 'duration', label: 'Duration', kind: 'attribute' }
];

/** Columns that always lead the list and stay put while it scrolls sideways. */
export const FROZEN_COLUMNS: ReadonlyArray<string> = ['status', 'name'];
/** Bounds of a column width set by dragging (px). */
export const MIN_COLUMN_WIDTH = 32;
export const MAX_COLUMN_WIDTH = 800;

/**
 * `columns` in the user's `order`: frozen columns first (in their own order),
 * then the keys `order` names, in its order, then the others as they came.
 */
export function orderColumns(
  columns: IColumnInfo[],
  order: ReadonlyArray<string>
): IColumnInfo[] {
  const frozen = columns.filter(c => FROZEN_COLUMNS.includes(c.key));
  const rank = (c: IColumnInfo) => {
    const i = order.indexOf(c.key);
    return i < 0 ? order.length : i;
  };
  const movable = columns
    .filter(c => !FROZEN_COLUMNS.includes(c.key))
    .map((c, i) => ({ c, i }))
    .sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i)
    .map(x => x.c);
  return [...frozen, ...movable];
}

export type ChangeKind =
  'runs' | 'filter' | 'sort' | 'columns' | 'layout' | 'selection' | 'loading';

export const DEFAULT_SORT: ISortSpec = { key: 'start_time', direction: 'desc' };

export function columnInfo(key: string): IColumnInfo {
  const base = BASE_COLUMNS.find(c => c.key === key);
  if (base) {
    return base;
  }
  if (key.startsWith('params.')) {
    return { key, label: key.slice(7), kind: 'param' };
  }
  if (key.startsWith('metrics.')) {
    return { key, label: key.slice(8), kind: 'metric' };
  }
  if (key.startsWith('tags.')) {
    return { key, label: key.slice(5), kind: 'tag' };
  }
  return { key, label: key, kind: 'attribute' };
}

/**
 * Compare two cell values for sorting: missing values sort last whatever the
 * direction; numbers (and numeric strings) compare numerically, other
 * strings naturally ("run 2" < "run 10").
 */
export function compareValues(
  a: unknown,
  b: unknown,
  direction: SortDirection = 'asc'
): number {
  const aMissing = a === undefined || a === null || a === '';
  const bMissing = b === undefined || b === null || b === '';
  if (aMissing || bMissing) {
    return aMissing === bMissing ? 0 : aMissing ? 1 : -1;
  }
  const sign = direction === 'asc' ? 1 : -1;
  const an = typeof a === 'number' ? a : numeric(a);
  const bn = typeof b === 'number' ? b : numeric(b);
  if (an !== null && bn !== null) {
    return an === bn ? 0 : (an < bn ? -1 : 1) * sign;
  }
  if (an !== null) {
    return -1 * sign; // numbers before strings
  }
  if (bn !== null) {
    return 1 * sign;
  }
  return collator.compare(String(a), String(b)) * sign;
}

const collator = new Intl.Collator(undefined, {
  numeric: true,
  sensitivity: 'base'
});

function numeric(v: unknown): number | null {
  if (typeof v !== 'string' || v.trim() === '') {
    return null;
  }
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/**
 * Free-text match, as the server's `search=` does it: name, notebook path or
 * a tag value contain the text, or the run id starts with it
 * (case-insensitive).
 */
export function matchesText(run: IRunSummary, needle: string): boolean {
  if (!needle) {
    return true;
  }
  const n = needle.toLowerCase();
  if (
    (run.name ?? '').toLowerCase().includes(n) ||
    (run.notebook_path ?? '').toLowerCase().includes(n) ||
    run.run_id.toLowerCase().startsWith(n)
  ) {
    return true;
  }
  for (const key in run.tags ?? {}) {
    if (String(run.tags[key]).toLowerCase().includes(n)) {
      return true;
    }
  }
  return false;
}

export class RunsModel {
  constructor(options: RunsModel.IOptions = {}) {
    this._now = options.now ?? (() => Date.now());
    if (options.columns) {
      this._columns = [...options.columns];
    }
  }

  /** Emitted (once per mutation) with what changed. */
  get changed(): ISignal<this, ChangeKind> {
    return this._changed;
  }

  // ---------------------------------------------------------------- runs

  /** Number of loaded runs. */
  get size(): number {
    return this._runs.size;
  }

  /** Total number of runs the server reported for the current query. */
  get total(): number {
    return Math.max(this._total, this._runs.size);
  }

  /** Whether every run of the server query is loaded (client-side filtering is exact). */
  get complete(): boolean {
    return this._runs.size >= this._total;
  }

  get loading(): boolean {
    return this._loading;
  }

  set loading(value: boolean) {
    if (value !== this._loading) {
      this._loading = value;
      this._changed.emit('loading');
    }
  }

  /** Last load error to show, or null. */
  get error(): string | null {
    return this._error;
  }

  set error(value: string | null) {
    if (value !== this._error) {
      this._error = value;
      this._changed.emit('loading');
    }
  }

  getRun(runId: string): IRunSummary | undefined {
    return this._runs.get(runId);
  }

  /** All loaded runs, in load order. */
  get runs(): IRunSummary[] {
    return Array.from(this._runs.values());
  }

  /** Replace every run (a full reload). The selection keeps known runs. */
  setRuns(runs: IRunSummary[], total?: number): void {
    this._runs.clear();
    for (const run of runs) {
      this._runs.set(run.run_id, run);
      this._removed.delete(run.run_id); // a full load says it exists (again)
    }
    this._total = total ?? runs.length;
    this._staleMetrics.clear();
    this._invalidate(true);
    this._changed.emit('runs');
  }

  /**
   * Merge runs (a page, a live event or a refresh of stale runs). A run whose
   * `last_update_time` is older than the one we hold is ignored. Returns how
   * many runs changed. `total` (from a page of `GET runs`) replaces the
   * known total; otherwise new runs add to it.
   */
  mergeRuns(runs: IRunSummary[], total?: number): number {
    let changed = 0;
    let added = 0;
    for (const run of runs) {
      if (!run || typeof run.run_id !== 'string') {
        continue;
      }
      if (this._removed.has(run.run_id)) {
        continue; // news of a run deleted since: an event or page sent before
      }
      const old = this._runs.get(run.run_id);
      if (old && (old.last_update_time ?? 0) > (run.last_update_time ?? 0)) {
        continue;
      }
      if (!old) {
        added++;
      }
      this._runs.set(run.run_id, run);
      this._staleMetrics.delete(run.run_id);
      changed++;
    }
    if (total !== undefined) {
      // a page of a paged load: the server told us the total
      this._total = total;
    } else {
      this._total += added;
    }
    if (changed) {
      this._invalidate(true);
      this._changed.emit('runs');
    }
    return changed;
  }

  mergeRun(run: IRunSummary): boolean {
    return this.mergeRuns([run]) > 0;
  }

  /**
   * Forget runs deleted for good. A merge (a live event, a poll or a page of
   * a load sent before the deletion) no longer brings them back; a later
   * full load (`setRuns`) does, if the server lists them again.
   */
  removeRuns(runIds: string[]): void {
    let changed = false;
    for (const id of runIds) {
      this._removed.add(id);
      if (this._runs.delete(id)) {
        changed = true;
        this._total = Math.max(0, this._total - 1);
      }
      this._selection.delete(id);
    }
    if (changed) {
      this._invalidate(true);
      this._changed.emit('runs');
    }
  }

  /**
   * A `metrics` event: the run's latest metric values changed. The summary we
   * hold is now stale (the event does not carry the values): the run is
   * listed in `staleRuns` until a fresh summary is merged.
   */
  applyMetricsEvent(event: IMetricsEvent): boolean {
    const run = this._runs.get(event.run_id);
    if (!run) {
      return false;
    }
    this._staleMetrics.add(event.run_id);
    return true;
  }

  /** Runs whose metric values are known to be out of date. */
  get staleRuns(): string[] {
    return Array.from(this._staleMetrics);
  }

  /** Take (and clear) up to `max` stale run ids, visible ones first. */
  takeStaleRuns(max = 100): string[] {
    const stale = this._staleMetrics;
    if (!stale.size) {
      return [];
    }
    const out: string[] = [];
    for (const run of this.visibleRuns) {
      if (out.length >= max) {
        break;
      }
      if (stale.has(run.run_id)) {
        out.push(run.run_id);
      }
    }
    for (const id of stale) {
      if (out.length >= max) {
        break;
      }
      if (!out.includes(id)) {
        out.push(id);
      }
    }
    for (const id of out) {
      stale.delete(id);
    }
    return out;
  }

  // -------------------------------------------------------------- filters

  /** The filter box text: free text, or an MLflow-style expression. */
  get query(): string {
    return this._query;
  }

  set query(value: string) {
    if (value === this._query) {
      return;
    }
    this._query = value;
    this._filterError = null;
    this._clauses = [];
    this._text = '';
    const trimmed = value.trim();
    if (trimmed && looksLikeExpression(trimmed)) {
      try {
        this._clauses = parseFilter(trimmed);
      } catch (error) {
        this._filterError =
          error instanceof FilterSyntaxError ? error.message : String(error);
      }
    } else {
      this._text = trimmed;
    }
    this._invalidate(false);
    this._changed.emit('filter');
  }

  /** Why the filter expression does not parse (then nothing is filtered). */
  get filterError(): string | null {
    return this._filterError;
  }

  /** The expression to send as `filter=` (valid expressions only). */
  get serverFilter(): string | undefined {
    return this._clauses.length ? this._query.trim() : undefined;
  }

  /** The free text to send as `search=`. */
  get serverSearch(): string | undefined {
    return this._text || undefined;
  }

  get statusFilter(): RunStatus | null {
    return this._status;
  }

  set statusFilter(value: RunStatus | null) {
    if (value === this._status) {
      return;
    }
    this._status = value;
    this._invalidate(false);
    this._changed.emit('filter');
  }

  /** Experiment shown (null: all). Filtering is also done client-side. */
  get experiment(): string | null {
    return this._experiment;
  }

  set experiment(value: string | null) {
    const v = value || null;
    if (v === this._experiment) {
      return;
    }
    this._experiment = v;
    this._invalidate(false);
    this._changed.emit('filter');
  }

  /** Show only top-level runs (hide pipeline steps / child runs). */
  get topLevelOnly(): boolean {
    return this._topLevelOnly;
  }

  set topLevelOnly(value: boolean) {
    if (value === this._topLevelOnly) {
      return;
    }
    this._topLevelOnly = value;
    this._invalidate(false);
    this._changed.emit('filter');
  }

  /** Show the archived runs (lifecycle stage `deleted`) instead of the active ones. */
  get showArchived(): boolean {
    return this._showArchived;
  }

  set showArchived(value: boolean) {
    if (value === this._showArchived) {
      return;
    }
    this._showArchived = value;
    this._selection.clear();
    this._invalidate(false);
    this._changed.emit('filter');
  }

  /** The lifecycle stage listed (`lifecycle=` of `GET runs`). */
  get serverLifecycle(): LifecycleStage {
    return this._showArchived ? 'deleted' : 'active';
  }

  /**
   * Set the lifecycle stage of loaded runs at once (after archive/restore
   * succeeded); the server's `run_updated` events that follow carry the same.
   */
  setLifecycle(runIds: string[], stage: LifecycleStage): void {
    const updated: IRunSummary[] = [];
    for (const id of runIds) {
      const run = this._runs.get(id);
      if (run && (run.lifecycle_stage ?? 'active') !== stage) {
        updated.push({ ...run, lifecycle_stage: stage });
      }
      if (stage !== this.serverLifecycle) {
        this._selection.delete(id);
      }
    }
    this.mergeRuns(updated);
  }

  /**
   * Runs brushed in a sweep view (parallel coordinates): when set, the list
   * shows only these (on top of the other filters). `null`: no brush.
   */
  get brushedIds(): ReadonlySet<string> | null {
    return this._brushed;
  }

  /** What the brush selects, for the panel ("lr 0.001-0.01"). */
  get brushLabel(): string {
    return this._brushLabel;
  }

  setBrushed(runIds: Iterable<string> | null, label = ''): void {
    if (runIds === null && this._brushed === null) {
      return; // no brush, and none before: nothing changes
    }
    this._brushed = runIds === null ? null : new Set(runIds);
    this._brushLabel = runIds === null ? '' : label;
    this._invalidate(false);
    this._changed.emit('filter');
  }

  /** The runs passing every filter but the brush (what a sweep view shows). */
  get sweepRuns(): IRunSummary[] {
    const out: IRunSummary[] = [];
    for (const run of this._runs.values()) {
      if (this._matchesBase(run)) {
        out.push(run);
      }
    }
    return out;
  }

  /** Whether a run passes every active filter. */
  matches(run: IRunSummary): boolean {
    if (this._brushed && !this._brushed.has(run.run_id)) {
      return false;
    }
    return this._matchesBase(run);
  }

  private _matchesBase(run: IRunSummary): boolean {
    if ((run.lifecycle_stage ?? 'active') !== this.serverLifecycle) {
      return false;
    }
    if (this._experiment && run.experiment !== this._experiment) {
      return false;
    }
    if (this._status && run.status !== this._status) {
      return false;
    }
    if (this._topLevelOnly && run.parent_run_id) {
      return false;
    }
    if (this._clauses.length && !matchAll(run, this._clauses)) {
      return false;
    }
    if (this._text && !matchesText(run, this._text)) {
      return false;
    }
    return true;
  }

  // ----------------------------------------------------------------- sort

  get sort(): ISortSpec {
    return this._sort;
  }

  set sort(value: ISortSpec) {
    if (
      value.key === this._sort.key &&
      value.direction === this._sort.direction
    ) {
      return;
    }
    this._sort = { ...value };
    this._invalidate(false);
    this._changed.emit('sort');
  }

  /**
   * Click on a column header: sort by it (numbers and times descending
   * first, text ascending first), or flip the direction when already sorted.
   */
  toggleSort(key: string): void {
    if (this._sort.key === key) {
      this.sort = {
        key,
        direction: this._sort.direction === 'asc' ? 'desc' : 'asc'
      };
    } else {
      const descFirst =
        key === 'start_time' ||
        key === 'end_time' ||
        key === 'duration' ||
        key.startsWith('metrics.');
      this.sort = { key, direction: descFirst ? 'desc' : 'asc' };
    }
  }

  /** `order_by` for the server, e.g. `metrics.acc DESC`. */
  get serverOrderBy(): string {
    const key = this._sort.key === 'duration' ? 'start_time' : this._sort.key;
    return `${key} ${this._sort.direction.toUpperCase()}`;
  }

  // -------------------------------------------------------------- columns

  /** Extra columns (`params.<k>`, `metrics.<k>`, `tags.<k>`), in order. */
  get columns(): string[] {
    return [...this._columns];
  }

  set columns(value: string[]) {
    const next = Array.from(new Set(value));
    if (
      next.length === this._columns.length &&
      next.every((c, i) => c === this._columns[i])
    ) {
      return;
    }
    this._columns = next;
    this._changed.emit('columns');
  }

  /** Every column shown: the base ones, the chosen extra ones, then `autoColumns`. */
  get visibleColumns(): IColumnInfo[] {
    return [
      ...BASE_COLUMNS,
      ...this._columns.map(columnInfo),
      ...this.autoColumns.map(key => ({ ...columnInfo(key), auto: true }))
    ];
  }

  /**
   * Params, metrics and tags the filter or the sort names that are not chosen
   * columns: the list shows them too, so what selects or orders the runs is
   * in view.
   */
  get autoColumns(): string[] {
    const keys = [...this._clauses.map(c => c.key), this._sort.key];
    const out: string[] = [];
    for (const key of keys) {
      if (
        /^(params|metrics|tags)\./.test(key) &&
        !this._columns.includes(key) &&
        !out.includes(key)
      ) {
        out.push(key);
      }
    }
    return out;
  }

  /**
   * Column widths the user set by dragging a header's edge (px, by key);
   * kept across reloads by the extension (this browser's storage).
   */
  get columnWidths(): { [key: string]: number } {
    return { ...this._widths };
  }

  /** Set (or, with `null`, forget) the width of one column. */
  setColumnWidth(key: string, width: number | null): void {
    if (width === null) {
      if (!(key in this._widths)) {
        return;
      }
      delete this._widths[key];
    } else {
      const w = Math.round(
        Math.min(MAX_COLUMN_WIDTH, Math.max(MIN_COLUMN_WIDTH, width))
      );
      if (this._widths[key] === w) {
        return;
      }
      this._widths[key] = w;
    }
    this._changed.emit('layout');
  }

  /**
   * The order the user gave the movable columns by dragging headers (keys;
   * columns it does not name keep their place after the named ones). The
   * status and the name always lead: they stay put while the list scrolls.
   */
  get columnOrder(): string[] {
    return [...this._order];
  }

  set columnOrder(value: string[]) {
    const next = Array.from(new Set(value)).filter(
      k => !FROZEN_COLUMNS.includes(k)
    );
    if (
      next.length === this._order.length &&
      next.every((k, i) => k === this._order[i])
    ) {
      return;
    }
    this._order = next;
    this._changed.emit('layout');
  }

  /**
   * Move column `key` before column `before` (or to the end, `null`), as
   * dropping a dragged header does. Frozen columns (status, name) stay put.
   */
  moveColumn(key: string, before: string | null): void {
    if (FROZEN_COLUMNS.includes(key) || key === before) {
      return;
    }
    const shown = orderColumns(this.visibleColumns, this._order)
      .map(c => c.key)
      .filter(k => !FROZEN_COLUMNS.includes(k));
    // keep the order of columns not shown now (a column chosen again later)
    const rest = this._order.filter(k => !shown.includes(k));
    const keys = shown.filter(k => k !== key);
    const at = before === null ? -1 : keys.indexOf(before);
    keys.splice(at < 0 ? keys.length : at, 0, key);
    this.columnOrder = [...keys, ...rest];
  }

  /** Every column shown, in the user's order (frozen ones first). */
  get orderedColumns(): IColumnInfo[] {
    return orderColumns(this.visibleColumns, this._order);
  }

  /** The keys of every column shown beyond the base ones (CSV export). */
  get extraColumns(): string[] {
    return [...this._columns, ...this.autoColumns];
  }

  toggleColumn(key: string): void {
    const k = normalizeColumnKey(key);
    if (this._columns.includes(k)) {
      this.columns = this._columns.filter(c => c !== k);
    } else {
      this.columns = [...this._columns, k];
    }
  }

  /** Columns the loaded runs could show, grouped and sorted. */
  get availableColumns(): {
    params: string[];
    metrics: string[];
    tags: string[];
  } {
    if (!this._available) {
      const params = new Set<string>();
      const metrics = new Set<string>();
      const tags = new Set<string>();
      for (const run of this._runs.values()) {
        for (const k in run.params) {
          params.add(`params.${k}`);
        }
        for (const k in run.metrics) {
          metrics.add(`metrics.${k}`);
        }
        for (const k in run.tags) {
          if (!k.startsWith('mlops.')) {
            tags.add(`tags.${k}`);
          }
        }
      }
      const sorted = (s: Set<string>) =>
        Array.from(s).sort((a, b) => collator.compare(a, b));
      this._available = {
        params: sorted(params),
        metrics: sorted(metrics),
        tags: sorted(tags)
      };
    }
    return this._available;
  }

  // ------------------------------------------------------------ selection

  /** Selected run ids in selection order. */
  get selectedIds(): string[] {
    return Array.from(this._selection);
  }

  isSelected(runId: string): boolean {
    return this._selection.has(runId);
  }

  toggleSelected(runId: string): void {
    if (this._selection.has(runId)) {
      this._selection.delete(runId);
    } else {
      this._selection.add(runId);
    }
    this._changed.emit('selection');
  }

  // ----------------------------------------------------------------- tree

  /** Child runs listed under their parent (when the parent is listed too). */
  get treeView(): boolean {
    return this._treeView;
  }

  set treeView(value: boolean) {
    if (value !== this._treeView) {
      this._treeView = value;
      this._invalidate(false);
      this._changed.emit('filter');
    }
  }

  /** Depth of a listed run in the tree (0: top level). */
  depth(runId: string): number {
    void this.visibleRuns;
    return this._depth.get(runId) ?? 0;
  }

  /** Number of listed children of a run (they follow it unless collapsed). */
  childCount(runId: string): number {
    void this.visibleRuns;
    return this._childCount.get(runId) ?? 0;
  }

  isCollapsed(runId: string): boolean {
    return this._collapsed.has(runId);
  }

  toggleCollapsed(runId: string): void {
    if (this._collapsed.has(runId)) {
      this._collapsed.delete(runId);
    } else {
      this._collapsed.add(runId);
    }
    this._invalidate(false);
    this._changed.emit('filter');
  }

  /** Select every run passing the filters (not only those in view). */
  selectAllVisible(): void {
    this.setSelected(this.matchingRuns.map(r => r.run_id));
  }

  setSelected(runIds: string[]): void {
    this._selection = new Set(runIds);
    this._changed.emit('selection');
  }

  clearSelection(): void {
    if (this._selection.size) {
      this._selection.clear();
      this._changed.emit('selection');
    }
  }

  /** Whether the compare view can open (two or more runs selected). */
  get canCompare(): boolean {
    return this._selection.size >= 2;
  }

  // -------------------------------------------------------------- results

  /** The runs passing the filters, sorted (memoised until the next change). */
  get visibleRuns(): IRunSummary[] {
    if (!this._visible) {
      const now = this._now();
      const { key, direction } = this._sort;
      const rows: Array<{ run: IRunSummary; value: unknown }> = [];
      for (const run of this._runs.values()) {
        if (this.matches(run)) {
          rows.push({ run, value: runValue(run, key, now) });
        }
      }
      // Ties as the server breaks them: newest first, then by run id (time-ordered),
      // newest first too, except when sorting by start time ascending.
      const oldestFirst = key === 'start_time' && direction === 'asc';
      rows.sort((a, b) => {
        const c = compareValues(a.value, b.value, direction);
        if (c !== 0) {
          return c;
        }
        const t = (b.run.start_time ?? 0) - (a.run.start_time ?? 0);
        if (t !== 0) {
          return t;
        }
        if (a.run.run_id === b.run.run_id) {
          return 0;
        }
        return a.run.run_id < b.run.run_id === oldestFirst ? -1 : 1;
      });
      this._matching = rows.map(r => r.run);
      this._visible = this._treeView
        ? this._asTree(this._matching)
        : this._matching;
    }
    return this._visible;
  }

  /** Every run passing the filters, sorted, collapsed children included. */
  get matchingRuns(): IRunSummary[] {
    void this.visibleRuns;
    return this._matching;
  }

  /** Count of visible runs by status. */
  get statusCounts(): { [status: string]: number } {
    const visible = this.matchingRuns;
    if (!this._counts) {
      const counts: { [status: string]: number } = {};
      for (const run of visible) {
        counts[run.status] = (counts[run.status] ?? 0) + 1;
      }
      this._counts = counts;
    }
    return this._counts;
  }

  /**
   * Sorted runs as a tree: each run followed by its listed children (sorted
   * alike), unless collapsed. A run whose parent is not listed is a root.
   */
  private _asTree(sorted: IRunSummary[]): IRunSummary[] {
    this._depth.clear();
    this._childCount.clear();
    const listed = new Set(sorted.map(r => r.run_id));
    const children = new Map<string, IRunSummary[]>();
    const roots: IRunSummary[] = [];
    for (const run of sorted) {
      const parent = run.parent_run_id;
      if (parent && listed.has(parent) && parent !== run.run_id) {
        const list = children.get(parent);
        if (list) {
          list.push(run);
        } else {
          children.set(parent, [run]);
        }
        this._childCount.set(parent, (this._childCount.get(parent) ?? 0) + 1);
      } else {
        roots.push(run);
      }
    }
    const out: IRunSummary[] = [];
    const seen = new Set<string>();
    const stack: Array<[IRunSummary, number]> = roots
      .map(r => [r, 0] as [IRunSummary, number])
      .reverse();
    while (stack.length) {
      const [run, depth] = stack.pop()!;
      if (seen.has(run.run_id)) {
        continue; // a parent cycle in corrupt data must not loop
      }
      seen.add(run.run_id);
      out.push(run);
      this._depth.set(run.run_id, depth);
      if (!this._collapsed.has(run.run_id)) {
        const kids = children.get(run.run_id) ?? [];
        for (let i = kids.length - 1; i >= 0; i--) {
          stack.push([kids[i], depth + 1]);
        }
      }
    }
    // runs on a cycle are reachable from no root: list them as roots
    for (const run of sorted) {
      if (!seen.has(run.run_id) && !this._isHiddenByCollapse(run, listed)) {
        out.push(run);
        this._depth.set(run.run_id, 0);
      }
    }
    return out;
  }

  /** Whether an ancestor of `run` is listed and collapsed. */
  private _isHiddenByCollapse(run: IRunSummary, listed: Set<string>): boolean {
    let parent = run.parent_run_id;
    const seen = new Set<string>();
    while (parent && listed.has(parent) && !seen.has(parent)) {
      if (this._collapsed.has(parent)) {
        return true;
      }
      seen.add(parent);
      parent = this._runs.get(parent)?.parent_run_id ?? null;
    }
    return false;
  }

  private _invalidate(runsChanged: boolean): void {
    this._visible = null;
    this._counts = null;
    if (runsChanged) {
      this._available = null;
    }
  }

  private _now: () => number;
  private _runs = new Map<string, IRunSummary>();
  /** Runs deleted for good in this session (see `removeRuns`). */
  private _removed = new Set<string>();
  private _total = 0;
  private _loading = false;
  private _error: string | null = null;
  private _staleMetrics = new Set<string>();
  private _query = '';
  private _text = '';
  private _clauses: IFilterClause[] = [];
  private _filterError: string | null = null;
  private _status: RunStatus | null = null;
  private _experiment: string | null = null;
  private _topLevelOnly = false;
  private _showArchived = false;
  private _brushed: Set<string> | null = null;
  private _brushLabel = '';
  private _treeView = true;
  private _collapsed = new Set<string>();
  private _depth = new Map<string, number>();
  private _childCount = new Map<string, number>();
  private _sort: ISortSpec = { ...DEFAULT_SORT };
  private _columns: string[] = [];
  private _widths: { [key: string]: number } = {};
  private _order: string[] = [];
  private _selection = new Set<string>();
  private _visible: IRunSummary[] | null = null;
  private _matching: IRunSummary[] = [];
  private _counts: { [status: string]: number } | null = null;
  private _available: {
    params: string[];
    metrics: string[];
    tags: string[];
  } | null = null;
  private _changed = new Signal<this, ChangeKind>(this);
}

export namespace RunsModel {
  export interface IOptions {
    /** Clock (tests). */
    now?: () => number;
    /** Initial extra columns. */
    columns?: string[];
  }
}

/** `metric.acc` -> `metrics.acc`; unknown forms are kept as they are. */
export function normalizeColumnKey(key: string): string {
  try {
    return normalizeKey(key);
  } catch {
    return key;
  }
}
