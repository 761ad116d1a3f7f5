import * as React from 'react';
import { act } from 'react';
import { createRoot, Root } from 'react-dom/client';

import { MLOpsClient } from '../api';
import { MLOpsController } from '../controller';
import { IRunDetailState, useRunDetail } from '../components/detail/useRunDetail';
import { RunsModel } from '../model';
import { IRunSummary } from '../tokens';
import { fakeServer, makeRun } from './helpers';

(globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;

describe('useRunDetail', () => {
  let host: HTMLDivElement;
  let root: Root;
  let seen: IRunDetailState;
  let served: {
    status: IRunSummary['status'];
    metrics: { [key: string]: number };
  };
  let controller: MLOpsController;

  function Probe(): JSX.Element {
    seen = useRunDetail(controller, 'r1');
    return <span />;
  }

  async function settle(): Promise<void> {
    // the 1 s live throttle, then the run's reload
    await act(async () => {
      jest.advanceTimersByTime(1100);
    });
    for (let i = 0; i < 5; i++) {
      await act(async () => {
        await Promise.resolve();
      });
    }
  }

  async function loaded(): Promise<void> {
    const until = Date.now() + 2000;
    while (
      JSON.stringify(seen.run?.metrics) !== JSON.stringify(served.metrics) ||
      seen.run?.status !== served.status
    ) {
      if (Date.now() > until) {
        throw new Error('the run was not reloaded');
      }
      await act(async () => {
        await new Promise(r => setImmediate(r));
      });
    }
  }

  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    served = { status: 'RUNNING', metrics: { loss: 1, acc: 0.5 } };
    const { settings } = fakeServer(url => {
      if (url.pathname.endsWith('/runs/r1')) {
        return {
          body: {
            ...makeRun({ run_id: 'r1', status: served.status }),
            metrics: served.metrics,
            metric_keys: Object.keys(served.metrics)
          }
        };
      }
      return { status: 404, body: { message: url.pathname } };
    });
    controller = new MLOpsController({
      client: new MLOpsClient({ serverSettings: settings }),
      model: new RunsModel()
    });
    controller.configure({ liveUpdates: false, refreshIntervalSeconds: 0 });
    host = document.createElement('div');
    root = createRoot(host);
  });

  afterEach(() => {
    act(() => root.unmount());
    controller.dispose();
    jest.useRealTimers();
  });

  /** A run change (as a poll reports it), with no metrics event. */
  async function runChanged(): Promise<void> {
    controller.handleRunEvent(makeRun({ run_id: 'r1', status: served.status }));
    await act(async () => {
      jest.advanceTimersByTime(200);
    });
    await settle();
    await loaded();
  }

  it('tells the charts of the keys a reload shows changed, without a metrics event', async () => {
    await act(async () => root.render(<Probe />));
    await loaded();
    expect(seen.metricVersions).toEqual({});

    // polled: loss has a new latest value, acc has not
    served = { status: 'RUNNING', metrics: { loss: 0.5, acc: 0.5 } };
    await runChanged();
    expect(seen.metricVersions).toEqual({ loss: 1 });

    // a key logged for the first time
    served = { status: 'RUNNING', metrics: { loss: 0.5, acc: 0.5, lr: 0.1 } };
    await runChanged();
    expect(seen.metricVersions).toEqual({ loss: 1, lr: 1 });

    // the run ended: every chart fetches its last points, even a constant one
    served = { status: 'FINISHED', metrics: { loss: 0.5, acc: 0.5, lr: 0.1 } };
    await runChanged();
    expect(seen.metricVersions).toEqual({ loss: 2, acc: 1, lr: 2 });

    // nothing changed: no chart fetches again
    await runChanged();
    expect(seen.metricVersions).toEqual({ loss: 2, acc: 1, lr: 2 });
  });

  it('fetches once per key when a metrics event told of the points', async () => {
    await act(async () => root.render(<Probe />));
    await loaded();

    served = { status: 'RUNNING', metrics: { loss: 0.25, acc: 0.75 } };
    controller.handleMetricsEvent({
      run_id: 'r1',
      keys: ['loss', 'acc'],
      last_update_time: 1
    });
    await settle();
    await loaded();
    expect(seen.metricVersions).toEqual({ loss: 1, acc: 1 });

    // the run_updated that follows the same points changes nothing more
    served = { status: 'FINISHED', metrics: { loss: 0.25, acc: 0.75 } };
    controller.handleMetricsEvent({
      run_id: 'r1',
      keys: ['loss'],
      last_update_time: 2
    });
    await runChanged();
    expect(seen.metricVersions).toEqual({ loss: 2, acc: 2 });
  });
});
