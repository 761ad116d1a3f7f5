/**
 * Live updates from `GET jupyter-mlops/api/events` (Server-Sent Events).
 *
 * `EventSource` cannot set headers, so authentication relies on the Jupyter
 * login cookie the browser already holds; when the page knows a token
 * (PageConfig / server settings) it is appended as `?token=` too. A closed
 * connection is re-opened by a `@lumino/polling` Poll: a second after a stream
 * that had opened, with a capped exponential back-off (jittered) while it
 * fails to open; `connectedChanged` lets the caller fall back to polling while
 * it is down.
 */
import { PromiseDelegate } from '@lumino/coreutils';
import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
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
    this._poll = new Poll({
      auto: false,
      factory: () => this._connect(),
      frequency: {
        interval: MLOpsEvents.RETRY_MS,
        backoff: true, // growth 3, jittered: next in [RETRY_MS, 3 x last]
        max: MLOpsEvents.MAX_RETRY_MS
      },
      name: 'jupyter-mlops:events',
      // keep reconnecting in a hidden tab, as EventSource itself does
      standby: 'never'
    });
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
    // open now (not on the poll's first tick) so the stream starts at once
    this._open();
    void this._poll.start();
  }

  /** Close the stream and stop reconnecting. */
  stop(): void {
    this._stopped = true;
    void this._poll.stop();
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
    this._poll.dispose();
    Signal.clearData(this);
  }

  /**
   * The poll's factory: (re)open the stream unless it is open. The promise
   * settles when the stream closes: resolved when it had opened (the poll
   * ticks again after RETRY_MS), rejected when it never did (back-off).
   */
  private _connect(): Promise<void> {
    if (!this._source && !this._stopped && !this._isDisposed) {
      this._open();
    }
    return this._attempt ? this._attempt.promise : Promise.resolve();
  }

  private _open(): void {
    const attempt = new PromiseDelegate<void>();
    // settled after stop() nobody may be listening
    attempt.promise.catch(() => undefined);
    this._attempt = attempt;
    let source: IEventSourceLike;
    try {
      source = this._factory(this._url);
    } catch (error) {
      console.warn('jupyter-mlops: cannot open the event stream', error);
      attempt.reject(error);
      return;
    }
    this._source = source;
    let opened = false;
    source.onopen = () => {
      opened = true;
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
        if (opened) {
          attempt.resolve();
        } else {
          attempt.reject(new Error('the event stream did not open'));
        }
      }
    };
    const onRun =
      (type: 'run_created' | 'run_updated') => (ev: MessageEvent) => {
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
  private _attempt: PromiseDelegate<void> | null = null;
  private _poll: Poll;
  private _isDisposed = false;
  private _runEvent = new Signal<this, MLOpsEvents.IRunEvent>(this);
  private _metricsEvent = new Signal<this, IMetricsEvent>(this);
  private _connectedChanged = new Signal<this, boolean>(this);
}

export namespace MLOpsEvents {
  /** Delay before re-opening a stream that had opened, and the least back-off. */
  export const RETRY_MS = 1000;
  /** Longest back-off between attempts to open the stream. */
  export const MAX_RETRY_MS = 30000;

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
