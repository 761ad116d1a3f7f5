import { MLOpsClient } from '../api';
import { MLOpsController } from '../controller';
import { RunsModel } from '../model';
import { IRunSummary } from '../tokens';
import { FakeEventSource, fakeServer, makeRun } from './helpers';

function setup(runs: IRunSummary[], live = false) {
  const server = fakeServer(url => {
    const path = url.pathname;
    if (path.endsWith('/experiments')) {
      return {
        body: {
          experiments: [
            { experiment_id: '1', name: 'default', creation_time: 0, run_count: runs.length }
          ]
        }
      };
    }
    if (path.endsWith('/runs')) {
      const limit = Number(url.searchParams.get('limit') ?? 100);
      const offset = Number(url.searchParams.get('offset') ?? 0);
      return {
        body: { runs: runs.slice(offset, offset + limit), total: runs.length, offset, limit }
      };
    }
    if (path.endsWith('/compare')) {
      const ids = (url.searchParams.get('run_ids') ?? '').split(',');
      return {
        body: {
          runs: runs.filter(r => ids.includes(r.run_id)),
          params: {},
          metrics: {},
          differing_params: []
        }
      };
    }
    return { status: 404, body: { message: 'nope' } };
  });
  const client = new MLOpsClient({ serverSettings: server.settings });
  const model = new RunsModel();
  const controller = new MLOpsController({
    client,
    model,
    eventSourceFactory: url => new FakeEventSource(url)
  });
  controller.configure({ liveUpdates: live, refreshIntervalSeconds: 0 });
  return { controller, model, calls: server.calls, runs };
}

const flush = () => new Promise(resolve => jest.requireActual('timers').setImmediate(resolve));

describe('MLOpsController', () => {
  beforeEach(() => {
    FakeEventSource.instances = [];
  });

  it('loads every page into the model', async () => {
    const runs = Array.from({ length: 2100 }, () => makeRun());
    const { controller, model, calls } = setup(runs);
    await controller.start();
    expect(model.size).toBe(2100);
    expect(model.complete).toBe(true);
    expect(controller.experiments.map(e => e.name)).toEqual(['default']);
    const runCalls = calls.filter(c => c.pathname.endsWith('/runs'));
    expect(runCalls.map(c => c.searchParams.get('offset'))).toEqual(['0', '1000', '2000']);
    expect(runCalls[0].searchParams.get('order_by')).toBe('start_time DESC');
    controller.dispose();
  });

  it('filters client-side when everything is loaded', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    const { controller, model, calls } = setup([
      makeRun({ name: 'xyzzy' }),
      makeRun({ name: 'quux' })
    ]);
    await controller.start();
    const before = calls.length;
    model.query = 'xyz';
    jest.advanceTimersByTime(1000);
    expect(calls.length).toBe(before);
    expect(model.visibleRuns.map(r => r.name)).toEqual(['xyzzy']);
    controller.dispose();
    jest.useRealTimers();
  });

  it('reloads with the server filter when the list is partial', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    const runs = Array.from({ length: 300 }, () => makeRun());
    const { controller, model, calls } = setup(runs);
    controller.configure({ maxRuns: 100 });
    await controller.start();
    expect(model.complete).toBe(false);
    model.query = 'metrics.acc > 0.5';
    jest.advanceTimersByTime(1000);
    await flush();
    const last = calls.filter(c => c.pathname.endsWith('/runs')).pop()!;
    expect(last.searchParams.get('filter')).toBe('metrics.acc > 0.5');
    controller.dispose();
    jest.useRealTimers();
  });

  it('batches live run events and refreshes runs with new metrics', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    const runs = [makeRun({ run_id: 'r1', metrics: { loss: 1 } })];
    const { controller, model, calls } = setup(runs, true);
    await controller.start();
    const source = FakeEventSource.instances[0];
    expect(source.url).toBe('http://localhost:8888/jupyter-mlops/api/events');
    source.open();
    expect(controller.liveState).toBe('live');

    const seen: string[] = [];
    controller.runChanged.connect((_, r) => seen.push(r.run_id));
    const fresh = makeRun({ run_id: 'r2', status: 'RUNNING', end_time: null });
    source.emit('run_created', fresh);
    source.emit('run_updated', { ...fresh, last_update_time: fresh.last_update_time + 1 });
    expect(model.size).toBe(1);
    jest.advanceTimersByTime(200);
    expect(model.size).toBe(2);
    expect(seen).toEqual(['r2']);

    // metrics: the server is asked for fresh summaries (compare endpoint)
    runs[0] = {
      ...runs[0],
      metrics: { loss: 0.5 },
      last_update_time: runs[0].last_update_time + 10
    };
    source.emit('metrics', {
      run_id: 'r1',
      keys: ['loss'],
      last_update_time: runs[0].last_update_time
    });
    jest.advanceTimersByTime(2000);
    await flush();
    await flush();
    const cmp = calls.filter(c => c.pathname.endsWith('/compare')).pop()!;
    expect(cmp.searchParams.get('run_ids')).toBe('r1');
    expect(model.getRun('r1')!.metrics.loss).toBe(0.5);

    // the stream drops: polling takes over when an interval is set
    controller.configure({ refreshIntervalSeconds: 5 });
    source.fail(true);
    expect(controller.liveState).toBe('polling');
    controller.dispose();
    jest.useRealTimers();
  });

  it('keeps the experiment run counts current as runs arrive live', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    const runs = [makeRun({ experiment: 'default' })];
    const { controller } = setup(runs, true);
    await controller.start();
    await flush();
    expect(controller.experiments[0].run_count).toBe(1);
    const source = FakeEventSource.instances[0];
    source.open();
    for (let i = 0; i < 3; i++) {
      const run = makeRun({ experiment: 'default' });
      runs.push(run);
      source.emit('run_created', run);
    }
    jest.advanceTimersByTime(5000);
    await flush();
    await flush();
    expect(controller.experiments[0].run_count).toBe(4);
    controller.dispose();
    jest.useRealTimers();
  });

  it('polls when live updates are off', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    const runs = [makeRun()];
    const { controller, model, calls } = setup(runs, false);
    controller.configure({ refreshIntervalSeconds: 10 });
    await controller.start();
    expect(controller.liveState).toBe('polling');
    expect(FakeEventSource.instances).toHaveLength(0);
    runs.push(makeRun({ run_id: 'new' }));
    const before = calls.length;
    jest.advanceTimersByTime(10_000);
    await flush();
    await flush();
    expect(calls.length).toBeGreaterThan(before);
    expect(model.getRun('new')).toBeDefined();
    controller.configure({ refreshIntervalSeconds: 0 });
    expect(controller.liveState).toBe('off');
    controller.dispose();
    jest.useRealTimers();
  });

  it('reloads when the number of runs to load changes in the settings', async () => {
    const runs = Array.from({ length: 300 }, () => makeRun());
    const { controller, model } = setup(runs);
    controller.configure({ maxRuns: 50 });
    await controller.start();
    expect(model.size).toBe(50);
    expect(model.total).toBe(300);
    controller.configure({ maxRuns: 200 });
    await flush();
    await flush();
    expect(model.size).toBe(200);
    controller.configure({ maxRuns: 200, liveUpdates: false });
    await flush();
    expect(model.size).toBe(200);
    controller.dispose();
  });

  it('retries a load that failed because the store or the server was away', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    const runs = Array.from({ length: 2500 }, () => makeRun());
    let down = true;
    let runCalls = 0;
    const { settings } = fakeServer(url => {
      if (url.pathname.endsWith('/experiments')) {
        return { body: { experiments: [] } };
      }
      runCalls++;
      // the first load gets one page, then the store goes away
      if (down && runCalls > 1) {
        return {
          status: 503,
          body: { message: 'The run store is unavailable', reason: 'StoreError' }
        };
      }
      const limit = Number(url.searchParams.get('limit') ?? 100);
      const offset = Number(url.searchParams.get('offset') ?? 0);
      return {
        body: { runs: runs.slice(offset, offset + limit), total: runs.length, offset, limit }
      };
    });
    const model = new RunsModel();
    const controller = new MLOpsController({
      client: new MLOpsClient({ serverSettings: settings }),
      model
    });
    controller.configure({ liveUpdates: false, refreshIntervalSeconds: 0 });
    await controller.start();
    expect(model.error).toContain('unavailable');
    expect(model.size).toBe(1000);
    down = false;
    for (let i = 0; i < 10 && model.size < runs.length; i++) {
      jest.advanceTimersByTime(30_000);
      for (let j = 0; j < 10; j++) {
        await flush();
      }
    }
    expect(model.size).toBe(runs.length);
    expect(model.error).toBeNull();
    controller.dispose();
    jest.useRealTimers();
  });

  it('does not retry a load the server refused (bad input)', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate'] });
    const { settings, calls } = fakeServer(() => ({
      status: 400,
      body: { message: 'Bad filter' }
    }));
    const model = new RunsModel();
    const controller = new MLOpsController({
      client: new MLOpsClient({ serverSettings: settings }),
      model
    });
    controller.configure({ liveUpdates: false, refreshIntervalSeconds: 0 });
    await controller.start();
    const before = calls.filter(c => c.pathname.endsWith('/runs')).length;
    jest.advanceTimersByTime(120_000);
    await flush();
    expect(calls.filter(c => c.pathname.endsWith('/runs')).length).toBe(before);
    controller.dispose();
    jest.useRealTimers();
  });

  it('reports server errors on the model', async () => {
    const { settings } = fakeServer(() => ({ status: 400, body: { message: 'Bad filter' } }));
    const model = new RunsModel();
    const controller = new MLOpsController({
      client: new MLOpsClient({ serverSettings: settings }),
      model
    });
    controller.configure({ liveUpdates: false, refreshIntervalSeconds: 0 });
    await controller.start();
    expect(model.error).toBe('Bad filter');
    expect(model.loading).toBe(false);
    controller.dispose();
  });
});
