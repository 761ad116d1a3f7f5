import { ISignal } from '@lumino/signaling';
import * as React from 'react';

/**
 * Re-render when a signal fires, at most once per animation frame (a burst
 * of live events costs one render); `immediate` changes render at once.
 */
export function useSignalRender<T, U = any>(
  signal: ISignal<T, U> | null,
  /** Changes to render synchronously (user actions, e.g. a checkbox click). */
  immediate?: (args: U) => boolean
): number {
  const [version, setVersion] = React.useState(0);
  React.useEffect(() => {
    if (!signal) {
      return;
    }
    let frame: number | null = null;
    const raf =
      typeof requestAnimationFrame === 'function'
        ? requestAnimationFrame
        : (cb: () => void) => setTimeout(cb, 16) as unknown as number;
    const caf =
      typeof cancelAnimationFrame === 'function'
        ? cancelAnimationFrame
        : (id: number) => clearTimeout(id);
    const slot = (_: T, args: U) => {
      if (immediate && immediate(args)) {
        if (frame !== null) {
          caf(frame);
          frame = null;
        }
        setVersion(v => v + 1);
        return;
      }
      if (frame === null) {
        frame = raf(() => {
          frame = null;
          setVersion(v => v + 1);
        });
      }
    };
    signal.connect(slot);
    return () => {
      signal.disconnect(slot);
      if (frame !== null) {
        caf(frame);
      }
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [signal]);
  return version;
}

/** Re-render every `ms` while `active`. */
export function useTicker(active: boolean, ms = 1000): number {
  const [tick, setTick] = React.useState(0);
  React.useEffect(() => {
    if (!active) {
      return;
    }
    const id = setInterval(() => setTick(t => t + 1), ms);
    return () => clearInterval(id);
  }, [active, ms]);
  return tick;
}

/** Size of an element, kept current with a ResizeObserver. */
export function useElementSize(ref: React.RefObject<HTMLElement>): {
  width: number;
  height: number;
} {
  const [size, setSize] = React.useState({ width: 0, height: 0 });
  React.useLayoutEffect(() => {
    const el = ref.current;
    if (!el) {
      return;
    }
    const update = () =>
      setSize(prev =>
        prev.width === el.clientWidth && prev.height === el.clientHeight
          ? prev
          : { width: el.clientWidth, height: el.clientHeight }
      );
    update();
    if (typeof ResizeObserver === 'undefined') {
      window.addEventListener('resize', update);
      return () => window.removeEventListener('resize', update);
    }
    const observer = new ResizeObserver(update);
    observer.observe(el);
    return () => observer.disconnect();
  }, [ref]);
  return size;
}

/** What `useFetch` holds: the last value loaded and the last error. */
export interface IFetched<T> {
  /** The last value loaded (kept while a newer load is under way). */
  data: T | null;
  /** The last load's error message; null once a load succeeds. */
  error: string | null;
}

/**
 * Load with `load(signal)` now and whenever `deps` change. The previous load
 * is aborted (its signal) on a change and on unmount, and what it gives after
 * that is dropped; `release` frees a loaded value when it is replaced or
 * unmounted (e.g. an object URL), and one that arrived after its abort.
 */
export function useFetch<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: React.DependencyList,
  release?: (value: T) => void
): IFetched<T> {
  const [state, setState] = React.useState<IFetched<T>>({
    data: null,
    error: null
  });
  React.useEffect(() => {
    const abort = new AbortController();
    let loaded: { value: T } | null = null;
    load(abort.signal).then(
      value => {
        if (abort.signal.aborted) {
          release?.(value);
          return;
        }
        loaded = { value };
        setState({ data: value, error: null });
      },
      e => {
        if (!abort.signal.aborted) {
          setState(prev => ({
            data: prev.data,
            error: String(e?.message ?? e)
          }));
        }
      }
    );
    return () => {
      abort.abort();
      if (loaded && release) {
        release(loaded.value);
      }
    };
    // the caller's deps stand for what `load` reads (checked at call sites)
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return state;
}
