import { MLOpsEvents } from '../events';
import { FakeEventSource, makeRun } from './helpers';

describe('MLOpsEvents', () => {
  beforeEach(() => {
    jest.useFakeTimers();
    FakeEventSource.instances = [];
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('parses run and metrics events', () => {
    const events = new MLOpsEvents({
      url: 'http://x/jupyter-mlops/api/events?token=t',
      factory: url => new FakeEventSource(url)
    });
    const runs: string[] = [];
    const metrics: string[][] = [];
    const connected: boolean[] = [];
    events.runEvent.connect((_, ev) => runs.push(`${ev.type}:${ev.run.run_id}`));
    events.metricsEvent.connect((_, ev) => metrics.push(ev.keys));
    events.connectedChanged.connect((_, c) => connected.push(c));
    events.start();
    const source = FakeEventSource.instances[0];
    expect(source.url).toBe('http://x/jupyter-mlops/api/events?token=t');
    source.open();
    expect(events.connected).toBe(true);
    const run = makeRun({ run_id: 'r1' });
    source.emit('run_created', run);
    source.emit('run_updated', { ...run, status: 'FAILED' });
    source.emit('metrics', { run_id: 'r1', keys: ['loss', 'acc'], last_update_time: 5 });
    source.emit('metrics', 'not json');
    source.emit('run_updated', { no: 'id' });
    expect(runs).toEqual(['run_created:r1', 'run_updated:r1']);
    expect(metrics).toEqual([['loss', 'acc']]);
    events.dispose();
    expect(source.closed).toBe(true);
    expect(connected).toEqual([true, false]);
  });

  it('reconnects with back-off when the stream is closed', () => {
    const events = new MLOpsEvents({
      url: 'u',
      factory: url => new FakeEventSource(url)
    });
    events.start();
    FakeEventSource.instances[0].open();
    FakeEventSource.instances[0].fail(true);
    expect(events.connected).toBe(false);
    expect(FakeEventSource.instances).toHaveLength(1);
    jest.advanceTimersByTime(1000);
    expect(FakeEventSource.instances).toHaveLength(2);
    // the browser retries a CONNECTING source by itself: no new one
    FakeEventSource.instances[1].fail(false);
    jest.advanceTimersByTime(60000);
    expect(FakeEventSource.instances).toHaveLength(2);
    events.stop();
    FakeEventSource.instances[1].fail(true);
    jest.advanceTimersByTime(60000);
    expect(FakeEventSource.instances).toHaveLength(2);
  });
});
