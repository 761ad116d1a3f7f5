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
    source.emit('metrics', {
      run_id: 'r1',
      keys: ['loss', 'acc'],
      last_update_time: 5
    });
    source.emit('metrics', 'not json');
    source.emit('run_updated', { no: 'id' });
    expect(runs).toEqual(['run_created:r1', 'run_updated:r1']);
    expect(metrics).toEqual([['loss', 'acc']]);
    events.dispose();
    expect(source.closed).toBe(true);
    expect(connected).toEqual([true, false]);
  });

  it('reconnects with back-off when the stream is closed', async () => {
    const events = new MLOpsEvents({
      url: 'u',
      factory: url => new FakeEventSource(url)
    });
    events.start();
    FakeEventSource.instances[0].open();
    FakeEventSource.instances[0].fail(true);
    expect(events.connected).toBe(false);
    expect(FakeEventSource.instances).toHaveLength(1);
    // a stream that had opened is re-opened a second later
    await jest.advanceTimersByTimeAsync(MLOpsEvents.RETRY_MS);
    expect(FakeEventSource.instances).toHaveLength(2);
    // the browser retries a CONNECTING source by itself: no new one
    FakeEventSource.instances[1].fail(false);
    await jest.advanceTimersByTimeAsync(60000);
    expect(FakeEventSource.instances).toHaveLength(2);
    events.stop();
    FakeEventSource.instances[1].fail(true);
    await jest.advanceTimersByTimeAsync(60000);
    expect(FakeEventSource.instances).toHaveLength(2);
    events.dispose();
  });

  it('backs off while the stream fails to open, and recovers', async () => {
    // Poll jitters each delay in [RETRY_MS, 3 x the last]: take the middle
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.5);
    const events = new MLOpsEvents({
      url: 'u',
      factory: url => new FakeEventSource(url)
    });
    const connected: boolean[] = [];
    events.connectedChanged.connect((_, c) => connected.push(c));
    events.start();
    const opened: number[] = [];
    let now = 0;
    // every attempt is refused (CLOSED before it opened) for 3 minutes
    while (now < 180000) {
      const last = FakeEventSource.instances[FakeEventSource.instances.length - 1];
      if (last.readyState === 0) {
        opened.push(now);
        last.fail(true);
      }
      await jest.advanceTimersByTimeAsync(100);
      now += 100;
    }
    const gaps = opened.slice(1).map((t, i) => t - opened[i]);
    // capped exponential back-off: growing delays up to the cap, far fewer
    // attempts than one a second
    expect(opened.length).toBeLessThan(20);
    for (let i = 1; i < gaps.length; i++) {
      expect(gaps[i]).toBeGreaterThanOrEqual(Math.min(gaps[i - 1], MLOpsEvents.MAX_RETRY_MS));
    }
    expect(Math.min(...gaps.slice(2))).toBeGreaterThanOrEqual(MLOpsEvents.RETRY_MS);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(MLOpsEvents.MAX_RETRY_MS + 100);
    expect(gaps[gaps.length - 1]).toBeGreaterThanOrEqual(MLOpsEvents.MAX_RETRY_MS);
    expect(events.connected).toBe(false);
    // the server is back: the next attempt opens and the badge is live again
    await jest.advanceTimersByTimeAsync(MLOpsEvents.MAX_RETRY_MS + 100);
    FakeEventSource.instances[FakeEventSource.instances.length - 1].open();
    expect(events.connected).toBe(true);
    expect(connected[connected.length - 1]).toBe(true);
    events.dispose();
    random.mockRestore();
  });
});
