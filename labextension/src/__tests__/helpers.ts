import { ServerConnection } from '@jupyterlab/services';

import { IEventSourceLike } from '../events';
import { IRunSummary } from '../tokens';

export const BASE = 'http://localhost:8888/';

let counter = 0;

export function makeRun(overrides: Partial<IRunSummary> = {}): IRunSummary {
  counter++;
  return {
    run_id: `run${counter}`,
    name: `run ${counter}`,
    experiment: 'default',
    experiment_id: '1',
    status: 'FINISHED',
    start_time: 1_700_000_000_000 + counter * 1000,
    end_time: 1_700_000_000_000 + counter * 1000 + 500,
    parent_run_id: null,
    notebook_path: 'train.ipynb',
    params: {},
    metrics: {},
    tags: {},
    last_update_time: 1_700_000_000_000 + counter * 1000 + 500,
    lifecycle_stage: 'active',
    cell_id: null,
    kind: 'cell',
    user: null,
    host: null,
    ...overrides
  };
}

/** Server settings whose fetch answers with `respond(url)`; URLs are recorded. */
export function fakeServer(respond: (url: URL) => { status?: number; body?: unknown }): {
  settings: ServerConnection.ISettings;
  calls: URL[];
} {
  const calls: URL[] = [];
  const fetchImpl = async (input: RequestInfo | URL) => {
    const raw = typeof input === 'string' ? input : ((input as Request).url ?? String(input));
    const url = new URL(raw.replace(/[?&]\d{10,}$/, ''));
    calls.push(url);
    const { status = 200, body = {} } = respond(url);
    return new Response(JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json' }
    });
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: BASE,
    wsUrl: 'ws://localhost:8888/',
    token: '',
    fetch: fetchImpl as any,
    Request: Request as any,
    Headers: Headers as any
  });
  return { settings, calls };
}

/** A controllable stand-in for the browser's EventSource. */
export class FakeEventSource implements IEventSourceLike {
  static instances: FakeEventSource[] = [];

  constructor(readonly url: string) {
    FakeEventSource.instances.push(this);
  }

  readyState = 0;
  onopen: ((ev: any) => any) | null = null;
  onerror: ((ev: any) => any) | null = null;
  closed = false;
  private listeners = new Map<string, Array<(ev: MessageEvent) => void>>();

  addEventListener(type: string, listener: (ev: MessageEvent) => void): void {
    const list = this.listeners.get(type) ?? [];
    list.push(listener);
    this.listeners.set(type, list);
  }

  close(): void {
    this.closed = true;
    this.readyState = 2;
  }

  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  fail(closed = true): void {
    this.readyState = closed ? 2 : 0;
    this.onerror?.({});
  }

  emit(type: string, data: unknown): void {
    const ev = { data: typeof data === 'string' ? data : JSON.stringify(data) } as MessageEvent;
    for (const l of this.listeners.get(type) ?? []) {
      l(ev);
    }
  }
}
