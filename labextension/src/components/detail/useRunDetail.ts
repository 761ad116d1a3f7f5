import * as React from 'react';

import { MLOpsController } from '../../controller';
import { IRunDetail } from '../../tokens';
import { useFetch } from '../hooks';

/** What the detail view shows of a run, kept current by `useRunDetail`. */
export interface IRunDetailState {
  /** The run, once loaded (the last one loaded while reloading). */
  run: IRunDetail | null;
  /** The last load's error; null once a load succeeds. */
  error: string | null;
  /** Per metric key, a counter bumped when new points were logged. */
  metricVersions: { [key: string]: number };
  /** Show `run` (e.g. an edit's answer) until the next load. */
  setRun: (run: IRunDetail) => void;
}

/** Live changes are gathered for this long before one reload. */
const LIVE_THROTTLE_MS = 1000;

/**
 * Load a run's detail, and reload it (at most once a second) when the run
 * changes or logs metrics; metric charts are told by `metricVersions`.
 */
export function useRunDetail(
  controller: MLOpsController,
  runId: string,
  onTitle?: (title: string, status: string) => void
): IRunDetailState {
  const [reloadCount, setReloadCount] = React.useState(0);
  const [metricVersions, setMetricVersions] = React.useState<{
    [key: string]: number;
  }>({});
  const fetched = useFetch(
    async signal => {
      const r = await controller.client.run(runId, signal);
      if (!signal.aborted) {
        onTitle?.(r.name || r.run_id, r.status);
      }
      return r;
    },
    // `reloadCount` is bumped to load again; onTitle is the widget's
    // callback, a new one need not reload
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [controller, runId, reloadCount]
  );
  // an edit's answer, shown until a newer load replaces what it was set over
  const [edited, setEdited] = React.useState<{
    run: IRunDetail;
    over: IRunDetail | null;
  } | null>(null);
  const run =
    edited && edited.over === fetched.data ? edited.run : fetched.data;
  const setRun = React.useCallback(
    (r: IRunDetail) => setEdited({ run: r, over: fetched.data }),
    [fetched.data]
  );

  // Keys whose charts a metrics event has told since the last load: a load
  // that shows them changed needs no second fetch.
  const toldKeys = React.useRef(new Set<string>());
  const lastLoaded = React.useRef<IRunDetail | null>(null);
  // Without a metrics event (the list polls instead of streaming, or the
  // stream was down), a reload is what shows that points were logged: a new
  // latest value, a new key, or the run's end (its last points).
  React.useEffect(() => {
    const previous = lastLoaded.current;
    const loaded = fetched.data;
    if (!loaded) {
      return;
    }
    lastLoaded.current = loaded;
    const told = toldKeys.current;
    toldKeys.current = new Set();
    if (!previous || previous.run_id !== loaded.run_id) {
      return;
    }
    const ended = previous.status !== loaded.status;
    const stale = Object.keys(loaded.metrics ?? {}).filter(
      k =>
        !told.has(k) &&
        (ended ||
          !(k in (previous.metrics ?? {})) ||
          previous.metrics[k] !== loaded.metrics[k])
    );
    if (stale.length) {
      setMetricVersions(v => bump(v, stale));
    }
  }, [fetched.data]);

  // live: summary changes and new metric points for this run
  React.useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const pendingKeys = new Set<string>();
    let reload = false;
    const flush = () => {
      timer = null;
      if (reload) {
        setReloadCount(c => c + 1);
        reload = false;
      }
      if (pendingKeys.size) {
        const keys = Array.from(pendingKeys);
        pendingKeys.clear();
        for (const k of keys) {
          toldKeys.current.add(k);
        }
        setMetricVersions(v => bump(v, keys));
      }
    };
    const schedule = () => {
      if (timer === null) {
        timer = setTimeout(flush, LIVE_THROTTLE_MS);
      }
    };
    const onRun = (_: unknown, summary: { run_id: string }) => {
      if (summary.run_id === runId) {
        reload = true;
        schedule();
      }
    };
    const onMetrics = (_: unknown, ev: { run_id: string; keys: string[] }) => {
      if (ev.run_id === runId) {
        for (const k of ev.keys ?? []) {
          pendingKeys.add(k);
        }
        reload = true; // latest values and new keys
        schedule();
      }
    };
    controller.runChanged.connect(onRun);
    controller.metricsLogged.connect(onMetrics);
    return () => {
      controller.runChanged.disconnect(onRun);
      controller.metricsLogged.disconnect(onMetrics);
      if (timer !== null) {
        clearTimeout(timer);
      }
    };
  }, [controller, runId]);

  return { run, error: fetched.error, metricVersions, setRun };
}

function bump(
  versions: { [key: string]: number },
  keys: string[]
): { [key: string]: number } {
  const next = { ...versions };
  for (const k of keys) {
    next[k] = (next[k] ?? 0) + 1;
  }
  return next;
}
