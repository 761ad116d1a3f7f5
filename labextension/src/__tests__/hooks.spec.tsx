import * as React from 'react';
import { act } from 'react';
import { createRoot, Root } from 'react-dom/client';

import { IFetched, useFetch } from '../components/hooks';

(globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;

interface ILoad {
  arg: string;
  signal: AbortSignal;
  resolve: (value: string) => void;
  reject: (error: Error) => void;
}

describe('useFetch', () => {
  let host: HTMLDivElement;
  let root: Root;
  let loads: ILoad[];
  let released: string[];
  let seen: IFetched<string>;

  function Probe(props: { arg: string }): JSX.Element {
    seen = useFetch(
      signal =>
        new Promise<string>((resolve, reject) =>
          loads.push({ arg: props.arg, signal, resolve, reject })
        ),
      [props.arg],
      v => released.push(v)
    );
    return <span>{seen.data ?? ''}</span>;
  }

  beforeEach(() => {
    host = document.createElement('div');
    root = createRoot(host);
    loads = [];
    released = [];
  });

  it('aborts a superseded load, drops its answer and keeps the last value', async () => {
    await act(async () => root.render(<Probe arg="a" />));
    await act(async () => loads[0].resolve('A'));
    expect(seen).toEqual({ data: 'A', error: null });

    await act(async () => root.render(<Probe arg="b" />));
    // the previous value is shown while the next load is under way, and freed
    expect(seen.data).toBe('A');
    expect(released).toEqual(['A']);
    await act(async () => root.render(<Probe arg="c" />));
    expect(loads.map(l => [l.arg, l.signal.aborted])).toEqual([
      ['a', true],
      ['b', true],
      ['c', false]
    ]);
    // b answers late: dropped (and released), c's answer is shown
    await act(async () => loads[1].resolve('B'));
    expect(seen.data).toBe('A');
    expect(released).toEqual(['A', 'B']);
    await act(async () => loads[2].resolve('C'));
    expect(seen).toEqual({ data: 'C', error: null });

    act(() => root.unmount());
    expect(loads[2].signal.aborted).toBe(true);
    expect(released).toEqual(['A', 'B', 'C']);
  });

  it('reports an error, and clears it on the next success', async () => {
    await act(async () => root.render(<Probe arg="a" />));
    await act(async () => loads[0].reject(new Error('boom')));
    expect(seen).toEqual({ data: null, error: 'boom' });
    await act(async () => root.render(<Probe arg="b" />));
    await act(async () => loads[1].resolve('B'));
    expect(seen).toEqual({ data: 'B', error: null });
    act(() => root.unmount());
  });
});
