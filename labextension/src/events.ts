/**
 * Live updates from `GET jupyter-mlops/api/events` (Server-Sent Events).
 *
 * `EventSource` cannot set headers, so authentication relies on the Jupyter
 * login cookie the browser already holds; when the page knows a token
 * (PageConfig / server settings) it is appended as `?token=` too. The
 * connection is re-opened with a capped exponential back-off on error, and
 * `connectedChanged` lets the caller fall back to polling while it is down.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { IMetricsEvent, IRunSummary } from './tokens';

/** The minimal EventSource surface we use (lets tests inject a fake). */
export interface IEventSourceLike {
  readonly readyState: number;
  onopen: ((ev: any) => any) | null;
  onerror: ((ev: any) => any) | null;
  addEventListener(type: string, listener: (ev: MessageEvent) => void): void;
  close(): void;
}

export type EventSourceFactory = (url: string) => IEventSourceLike;

export class MLOpsEvents implements IDisposable {
  constructor(options: MLOpsEvents.IOptions) {
    this._url = options.url;
    this._factory =
      options.factory ??
      ((url: string) =>
        new EventSource(url, { withCredentials: true }) as IEventSourceLike);
  }

  /** A run was created or its summary changed. */
  get runEvent(): ISignal<this, MLOpsEvents.IRunEvent> {
    return this._runEvent;
  }

  /** New metric points were logged for a run. */
  get metricsEvent(): ISignal<this, IMetricsEvent> {
    return this._metricsEvent;
  }

  /** The stream opened (true) or dropped (false). */
  get connectedChanged(): ISignal<this, boolean> {
    return this._connectedChanged;
  }

  get connected(): boolean {
    return this._connected;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Open the stream (no-op when already open). */
  start(): void {
    if (this._isDisposed || this._source) {
      return;
    }
    this._stopped = false;
    this._open();
  }

  /** Close the stream and stop reconnecting. */
  stop(): void {
    this._stopped = true;
    if (this._retryTimer !== null) {
      clearTimeout(this._retryTimer);
      this._retryTimer = null;
    }
    if (this._source) {
      this._source.close();
      this._source = null;
    }
    this._setConnected(false);
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this.stop();
    this._isDisposed = true;
    Signal.clearData(this);
  }

  private _open(): void {
    let source: IEventSourceLike;
    try {
      source = this._factory(this._url);
    } catch (error) {
      console.warn('jupyter-mlops: cannot open the event stream', error);
      this._scheduleRetry();
      return;
    }
    this._source = source;
    source.onopen = () => {
      this._retries = 0;
      this._setConnected(true);
    };
    source.onerror = () => {
      // EventSource retries by itself while CONNECTING; a CLOSED source
      // (e.g. 403/404) needs to be re-created by us.
      this._setConnected(false);
      if (source.readyState === 2 /* CLOSED */) {
        source.close();
        if (this._source === source) {
          this._source = null;
        }
        this._scheduleRetry();
      }
    };
    const onRun = (type: 'run_created' | 'run_updated') => (ev: MessageEvent) => {
      const run = parse<IRunSummary>(ev.data);
      if (run && typeof run.run_id === 'string') {
        this._runEvent.emit({ type, run });
      }
    };
    source.addEventListener('run_created', onRun('run_created'));
    source.addEventListener('run_updated', onRun('run_updated'));
    source.addEventListener('metrics', (ev: MessageEvent) => {
      const data = parse<IMetricsEvent>(ev.data);
      if (data && typeof data.run_id === 'string') {
        this._metricsEvent.emit(data);
      }
    });
  }

  private _scheduleRetry(): void {
    if (this._stopped || this._isDisposed || this._retryTimer !== null) {
      return;
    }
    const delay = Math.min(30000, 1000 * 2 ** this._retries);
    this._retries = Math.min(this._retries + 1, 10);
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      if (!this._stopped && !this._isDisposed && !this._source) {
        this._open();
      }
    }, delay);
  }

  private _setConnected(value: boolean): void {
    if (this._connected !== value) {
      this._connected = value;
      this._connectedChanged.emit(value);
    }
  }

  private _url: string;
  private _factory: EventSourceFactory;
  private _source: IEventSourceLike | null = null;
  private _connected = false;
  private _stopped = true;
  private _retries = 0;
  private _retryTimer: ReturnType<typeof setTimeout> | null = null;
  private _isDisposed = false;
  private _runEvent = new Signal<this, MLOpsEvents.IRunEvent>(this);
  private _metricsEvent = new Signal<this, IMetricsEvent>(this);
  private _connectedChanged = new Signal<this, boolean>(this);
}

export namespace MLOpsEvents {
  export interface IOptions {
    /** Full URL of the event stream, token included when needed. */
    url: string;
    /** EventSource factory (tests). */
    factory?: EventSourceFactory;
  }

  export interface IRunEvent {
    type: 'run_created' | 'run_updated';
    run: IRunSummary;
  }
}

function parse<T>(data: unknown): T | null {
  if (typeof data !== 'string') {
    return null;
  }
  try {
    return JSON.parse(data) as T;
  } catch {
    return null;
  }
}
