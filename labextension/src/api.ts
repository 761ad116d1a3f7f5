/**
 * Typed client of the jupyter-mlops REST API (`<base_url>jupyter-mlops/api/`).
 *
 * Requests go through `ServerConnection.makeRequest`, which adds the
 * Authorization token and the XSRF header exactly like JupyterLab's own
 * service clients do.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import {
  IArtifact,
  IComparison,
  IExperiment,
  IMetricHistory,
  IRunDetail,
  IRunEdit,
  IRunList,
  IRunQuery,
  IRunSummary
} from './tokens';

/** Path of the REST API below the server's base URL. */
export const API_PREFIX = 'jupyter-mlops/api';

/** Server-side page size limit of `GET runs`. */
export const MAX_PAGE_SIZE = 1000;

/** Most runs in one `compare` or `compare/metrics` request (the server's default limit). */
export const MAX_BATCH_RUNS = 100;

export type QueryValue = string | number | boolean | null | undefined;

/**
 * Encode a query object; `undefined`, `null` and `''` values are dropped and
 * keys keep their insertion order.
 */
export function encodeQuery(query: { [key: string]: QueryValue }): string {
  const parts: string[] = [];
  for (const key of Object.keys(query)) {
    const value = query[key];
    if (value === undefined || value === null || value === '') {
      continue;
    }
    parts.push(
      `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`
    );
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/**
 * Build an API URL: `<baseUrl>jupyter-mlops/api/<segments...>?<query>`.
 *
 * Every segment is percent-encoded as a single path segment (a run id or a
 * metric key containing `/` stays one segment). Use `artifactPath` to keep an
 * artifact's `/` separators.
 */
export function apiUrl(
  baseUrl: string,
  segments: string[] = [],
  query: { [key: string]: QueryValue } = {}
): string {
  const encoded = segments.map(s => encodeURIComponent(s));
  return URLExt.join(baseUrl, API_PREFIX, ...encoded) + encodeQuery(query);
}

/** Encode an artifact path: each `/`-separated part is encoded, `/` kept. */
export function artifactPath(path: string): string {
  return path
    .split('/')
    .filter(p => p.length > 0)
    .map(p => encodeURIComponent(p))
    .join('/');
}

/** URL of one artifact's bytes. */
export function artifactUrl(
  baseUrl: string,
  runId: string,
  path: string,
  token = ''
): string {
  return (
    URLExt.join(
      baseUrl,
      API_PREFIX,
      'runs',
      encodeURIComponent(runId),
      'artifacts',
      artifactPath(path)
    ) + encodeQuery({ token })
  );
}

/** URL of the Server-Sent Events stream (token appended when known). */
export function eventsUrl(baseUrl: string, token = ''): string {
  return apiUrl(baseUrl, ['events'], { token });
}

/** `runs` query string for a compare request: `run_ids=a,b,c`. */
export function compareUrl(baseUrl: string, runIds: string[]): string {
  const ids = runIds.map(id => encodeURIComponent(id)).join(',');
  return URLExt.join(baseUrl, API_PREFIX, 'compare') + `?run_ids=${ids}`;
}

/** An error answered by the jupyter-mlops server (or the network). */
export class MLOpsRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly reason: string | null = null
  ) {
    super(message);
    this.name = 'MLOpsRequestError';
  }
}

/** A typed REST client. */
export class MLOpsClient {
  constructor(options: MLOpsClient.IOptions = {}) {
    this.serverSettings =
      options.serverSettings ?? ServerConnection.makeSettings();
  }

  readonly serverSettings: ServerConnection.ISettings;

  get baseUrl(): string {
    return this.serverSettings.baseUrl;
  }

  /** The token to append to URLs the browser fetches itself (links, SSE). */
  get token(): string {
    return this.serverSettings.token ?? '';
  }

  url(segments: string[] = [], query: { [key: string]: QueryValue } = {}) {
    return apiUrl(this.baseUrl, segments, query);
  }

  async experiments(): Promise<IExperiment[]> {
    const data = await this._get<{ experiments: IExperiment[] }>(
      this.url(['experiments'])
    );
    return data.experiments;
  }

  runsUrl(query: IRunQuery = {}): string {
    return this.url(['runs'], {
      experiment: query.experiment,
      status: query.status,
      filter: query.filter,
      search: query.search,
      order_by: query.order_by,
      limit: query.limit,
      offset: query.offset,
      parent: query.parent,
      lifecycle: query.lifecycle
    });
  }

  runs(query: IRunQuery = {}, signal?: AbortSignal): Promise<IRunList> {
    return this._get<IRunList>(this.runsUrl(query), signal);
  }

  /**
   * Page through `GET runs` until `maxRuns` runs (or all of them) are loaded.
   * `onPage` sees each page as it arrives, so a big list renders progressively.
   */
  async allRuns(
    query: IRunQuery = {},
    maxRuns = 10000,
    onPage?: (runs: IRunSummary[], total: number) => void,
    signal?: AbortSignal
  ): Promise<{ runs: IRunSummary[]; total: number }> {
    const runs: IRunSummary[] = [];
    let offset = 0;
    let total = 0;
    for (;;) {
      const limit = Math.min(MAX_PAGE_SIZE, maxRuns - runs.length);
      if (limit <= 0) {
        break;
      }
      const page = await this.runs({ ...query, limit, offset }, signal);
      total = page.total;
      runs.push(...page.runs);
      if (onPage) {
        onPage(page.runs, total);
      }
      offset += page.runs.length;
      if (page.runs.length < limit || offset >= total) {
        break;
      }
    }
    return { runs, total };
  }

  runUrl(runId: string): string {
    return this.url(['runs', runId]);
  }

  run(runId: string, signal?: AbortSignal): Promise<IRunDetail> {
    return this._get<IRunDetail>(this.runUrl(runId), signal);
  }

  metricHistoryUrl(runId: string, key: string, maxPoints?: number): string {
    return this.url(['runs', runId, 'metrics', key], {
      max_points: maxPoints
    });
  }

  metricHistory(
    runId: string,
    key: string,
    maxPoints?: number,
    signal?: AbortSignal
  ): Promise<IMetricHistory> {
    return this._get<IMetricHistory>(
      this.metricHistoryUrl(runId, key, maxPoints),
      signal
    );
  }

  async artifacts(runId: string): Promise<IArtifact[]> {
    const data = await this._get<{ artifacts: IArtifact[] }>(
      this.url(['runs', runId, 'artifacts'])
    );
    return data.artifacts;
  }

  /** Download link of an artifact (token appended for the browser). */
  artifactUrl(runId: string, path: string): string {
    return artifactUrl(this.baseUrl, runId, path, this.token);
  }

  /** An artifact's bytes (authenticated), for a preview. */
  async artifactBlob(
    runId: string,
    path: string,
    signal?: AbortSignal
  ): Promise<Blob> {
    const url = artifactUrl(this.baseUrl, runId, path);
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        url,
        { method: 'GET', signal },
        this.serverSettings
      );
    } catch (error) {
      if ((error as any)?.name === 'AbortError') {
        throw error;
      }
      throw new MLOpsRequestError(
        `Cannot reach the jupyter-mlops server: ${String(
          (error as Error)?.message ?? error
        )}`,
        0
      );
    }
    if (!response.ok) {
      let message = response.statusText || 'Request failed';
      try {
        message = (await response.json())?.message || message;
      } catch {
        // not JSON
      }
      throw new MLOpsRequestError(message, response.status);
    }
    return response.blob();
  }

  compareUrl(runIds: string[]): string {
    return compareUrl(this.baseUrl, runIds);
  }

  /** URL of one metric's history for several runs (`GET compare/metrics`). */
  metricHistoriesUrl(
    runIds: string[],
    key: string,
    maxPoints?: number
  ): string {
    const ids = runIds.map(id => encodeURIComponent(id)).join(',');
    return (
      URLExt.join(this.baseUrl, API_PREFIX, 'compare', 'metrics') +
      `?run_ids=${ids}` +
      encodeQuery({ key, max_points: maxPoints }).replace('?', '&')
    );
  }

  /**
   * One metric's history for several runs: one request per `MAX_BATCH_RUNS`
   * runs (not one per run), run id -> history. A run without the metric has
   * an empty history.
   */
  async metricHistories(
    runIds: string[],
    key: string,
    maxPoints?: number,
    signal?: AbortSignal
  ): Promise<Map<string, IMetricHistory>> {
    const chunks: string[][] = [];
    for (let i = 0; i < runIds.length; i += MAX_BATCH_RUNS) {
      chunks.push(runIds.slice(i, i + MAX_BATCH_RUNS));
    }
    const answers = await Promise.all(
      chunks.map(ids =>
        this._get<{ histories: { [runId: string]: IMetricHistory } }>(
          this.metricHistoriesUrl(ids, key, maxPoints),
          signal
        )
      )
    );
    const out = new Map<string, IMetricHistory>();
    for (const answer of answers) {
      for (const [runId, history] of Object.entries(answer.histories ?? {})) {
        out.set(runId, history);
      }
    }
    return out;
  }

  compare(runIds: string[], signal?: AbortSignal): Promise<IComparison> {
    return this._get<IComparison>(this.compareUrl(runIds), signal);
  }

  /** Rename a run, set its note, set or remove (`null`) tags; the run after the edit. */
  editRun(runId: string, edit: IRunEdit): Promise<IRunDetail> {
    return this._request<IRunDetail>('PATCH', this.runUrl(runId), edit);
  }

  /** Archive runs (and their descendants unless `children` is false): the ids archived now. */
  async archiveRuns(runIds: string[], children = true): Promise<string[]> {
    const data = await this._request<{ run_ids: string[] }>(
      'POST',
      this.url(['runs', 'archive']),
      { run_ids: runIds, children }
    );
    return data.run_ids;
  }

  /** Restore archived runs: the ids restored now. */
  async restoreRuns(runIds: string[], children = true): Promise<string[]> {
    const data = await this._request<{ run_ids: string[] }>(
      'POST',
      this.url(['runs', 'restore']),
      { run_ids: runIds, children }
    );
    return data.run_ids;
  }

  /** Delete an archived run for good (with its descendants): the ids deleted. */
  async purgeRun(runId: string): Promise<string[]> {
    const data = await this._request<{ run_ids: string[] }>(
      'DELETE',
      this.runUrl(runId)
    );
    return data.run_ids;
  }

  /** URL of the event stream (token appended for EventSource). */
  eventsUrl(): string {
    return eventsUrl(this.baseUrl, this.token);
  }

  private _get<T>(url: string, signal?: AbortSignal): Promise<T> {
    return this._request<T>('GET', url, undefined, signal);
  }

  /** A request through `makeRequest`, which adds the token and the XSRF header. */
  private async _request<T>(
    method: string,
    url: string,
    body?: unknown,
    signal?: AbortSignal
  ): Promise<T> {
    let response: Response;
    const init: RequestInit = { method, signal };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    try {
      response = await ServerConnection.makeRequest(
        url,
        init,
        this.serverSettings
      );
    } catch (error) {
      if ((error as any)?.name === 'AbortError') {
        throw error;
      }
      throw new MLOpsRequestError(
        `Cannot reach the jupyter-mlops server: ${String(
          (error as Error)?.message ?? error
        )}`,
        0
      );
    }
    const text = await response.text();
    let data: any = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      let message = data?.message || response.statusText || 'Request failed';
      if (response.status === 404 && !data) {
        message =
          'The jupyter-mlops server extension is not enabled (404 on its API).';
      }
      throw new MLOpsRequestError(
        message,
        response.status,
        data?.reason ?? null
      );
    }
    return data as T;
  }
}

export namespace MLOpsClient {
  export interface IOptions {
    serverSettings?: ServerConnection.ISettings;
  }
}
