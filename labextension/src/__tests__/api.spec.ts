import { ServerConnection } from '@jupyterlab/services';

import {
  apiUrl,
  artifactPath,
  artifactUrl,
  compareUrl,
  encodeQuery,
  eventsUrl,
  MAX_BATCH_RUNS,
  MLOpsClient,
  MLOpsRequestError
} from '../api';

const BASE = 'http://localhost:8888/lab-base/';

function fakeSettings(respond: (url: string) => { status?: number; body?: unknown }): {
  settings: ServerConnection.ISettings;
  calls: string[];
} {
  const calls: string[] = [];
  const fetchImpl = async (input: RequestInfo | URL) => {
    const url = typeof input === 'string' ? input : ((input as Request).url ?? String(input));
    // ServerConnection appends a cache-busting timestamp (`cache: 'no-store'`)
    calls.push(url.replace(/[?&]\d{10,}$/, ''));
    const { status = 200, body = {} } = respond(url);
    return new Response(JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json' }
    });
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: BASE,
    wsUrl: 'ws://localhost:8888/lab-base/',
    token: 'secret',
    fetch: fetchImpl as any,
    Request: Request as any,
    Headers: Headers as any
  });
  return { settings, calls };
}

describe('URL building', () => {
  it('joins the base URL, the API prefix and encoded segments', () => {
    expect(apiUrl(BASE)).toBe('http://localhost:8888/lab-base/jupyter-mlops/api');
    expect(apiUrl(BASE, ['experiments'])).toBe(
      'http://localhost:8888/lab-base/jupyter-mlops/api/experiments'
    );
    expect(apiUrl('/', ['runs', 'abc'])).toBe('/jupyter-mlops/api/runs/abc');
    // a metric key with a slash and spaces stays one path segment
    expect(apiUrl(BASE, ['runs', 'r1', 'metrics', 'val/loss 1'])).toBe(
      'http://localhost:8888/lab-base/jupyter-mlops/api/runs/r1/metrics/val%2Floss%201'
    );
  });

  it('encodes query values and drops empty ones', () => {
    expect(encodeQuery({})).toBe('');
    expect(encodeQuery({ a: undefined, b: null, c: '' })).toBe('');
    expect(encodeQuery({ filter: "metrics.acc > 0.9 and params.lr = '0.1'", limit: 100 })).toBe(
      "?filter=metrics.acc%20%3E%200.9%20and%20params.lr%20%3D%20'0.1'&limit=100"
    );
    expect(encodeQuery({ offset: 0 })).toBe('?offset=0');
  });

  it('keeps artifact path separators but encodes each part', () => {
    expect(artifactPath('plots/roc curve.png')).toBe('plots/roc%20curve.png');
    expect(artifactPath('/a//b')).toBe('a/b');
    expect(artifactUrl(BASE, 'r1', 'model/weights#1.bin')).toBe(
      'http://localhost:8888/lab-base/jupyter-mlops/api/runs/r1/artifacts/model/weights%231.bin'
    );
    expect(artifactUrl('/', 'r1', 'x.txt', 'tok en')).toBe(
      '/jupyter-mlops/api/runs/r1/artifacts/x.txt?token=tok%20en'
    );
  });

  it('builds the events and compare URLs', () => {
    expect(eventsUrl(BASE)).toBe('http://localhost:8888/lab-base/jupyter-mlops/api/events');
    expect(eventsUrl(BASE, 'abc')).toBe(
      'http://localhost:8888/lab-base/jupyter-mlops/api/events?token=abc'
    );
    expect(compareUrl('/', ['a', 'b,c', 'd'])).toBe('/jupyter-mlops/api/compare?run_ids=a,b%2Cc,d');
  });
});

describe('MLOpsClient', () => {
  it('builds run queries in contract order', () => {
    const { settings } = fakeSettings(() => ({}));
    const client = new MLOpsClient({ serverSettings: settings });
    expect(
      client.runsUrl({
        experiment: 'my exp',
        status: 'RUNNING',
        filter: 'metrics.acc > 0.9',
        order_by: 'metrics.acc DESC',
        limit: 50,
        offset: 100,
        parent: 'none'
      })
    ).toBe(
      BASE +
        'jupyter-mlops/api/runs?experiment=my%20exp&status=RUNNING&filter=metrics.acc%20%3E%200.9' +
        '&order_by=metrics.acc%20DESC&limit=50&offset=100&parent=none'
    );
    expect(client.runUrl('a/b')).toBe(BASE + 'jupyter-mlops/api/runs/a%2Fb');
    expect(client.metricHistoryUrl('r1', 'loss', 500)).toBe(
      BASE + 'jupyter-mlops/api/runs/r1/metrics/loss?max_points=500'
    );
    expect(client.metricHistoryUrl('r1', 'loss')).toBe(
      BASE + 'jupyter-mlops/api/runs/r1/metrics/loss'
    );
    // links the browser opens itself carry the token
    expect(client.artifactUrl('r1', 'a.txt')).toBe(
      BASE + 'jupyter-mlops/api/runs/r1/artifacts/a.txt?token=secret'
    );
    expect(client.eventsUrl()).toBe(BASE + 'jupyter-mlops/api/events?token=secret');
  });

  it('fetches JSON through ServerConnection', async () => {
    const { settings, calls } = fakeSettings(url => {
      if (url.includes('/experiments')) {
        return {
          body: {
            experiments: [{ experiment_id: '1', name: 'e', creation_time: 1, run_count: 2 }]
          }
        };
      }
      return { body: { key: 'loss', steps: [0], timestamps: [1], values: [0.5], total_points: 1 } };
    });
    const client = new MLOpsClient({ serverSettings: settings });
    const experiments = await client.experiments();
    expect(experiments[0].name).toBe('e');
    const history = await client.metricHistory('r1', 'loss', 10);
    expect(history.values).toEqual([0.5]);
    expect(calls).toEqual([
      BASE + 'jupyter-mlops/api/experiments',
      BASE + 'jupyter-mlops/api/runs/r1/metrics/loss?max_points=10'
    ]);
  });

  it('pages through runs up to maxRuns', async () => {
    const total = 2500;
    const { settings, calls } = fakeSettings(url => {
      const u = new URL(url);
      const limit = Number(u.searchParams.get('limit'));
      const offset = Number(u.searchParams.get('offset'));
      const n = Math.max(0, Math.min(limit, total - offset));
      const runs = Array.from({ length: n }, (_, i) => ({ run_id: `r${offset + i}` }));
      return { body: { runs, total, offset, limit } };
    });
    const client = new MLOpsClient({ serverSettings: settings });
    const pages: number[] = [];
    const all = await client.allRuns({ experiment: 'e' }, 10000, page => pages.push(page.length));
    expect(all.runs).toHaveLength(2500);
    expect(all.total).toBe(2500);
    expect(pages).toEqual([1000, 1000, 500]);
    expect(calls.map(c => new URL(c).search)).toEqual([
      '?experiment=e&limit=1000&offset=0',
      '?experiment=e&limit=1000&offset=1000',
      '?experiment=e&limit=1000&offset=2000'
    ]);

    calls.length = 0;
    const capped = await client.allRuns({}, 1500);
    expect(capped.runs).toHaveLength(1500);
    expect(calls.map(c => new URL(c).search)).toEqual([
      '?limit=1000&offset=0',
      '?limit=500&offset=1000'
    ]);
  });

  it('fetches one metric of many runs in batches of MAX_BATCH_RUNS', async () => {
    const { settings, calls } = fakeSettings(url => {
      const u = new URL(url);
      const ids = (u.searchParams.get('run_ids') ?? '').split(',');
      const histories: { [id: string]: unknown } = {};
      for (const id of ids) {
        histories[id] = {
          key: 'loss/x',
          steps: [0],
          timestamps: [1],
          values: [Number(id.slice(1))],
          total_points: 1
        };
      }
      return { body: { key: u.searchParams.get('key'), histories } };
    });
    const client = new MLOpsClient({ serverSettings: settings });
    expect(client.metricHistoriesUrl(['a', 'b/c'], 'loss/x', 1000)).toBe(
      BASE + 'jupyter-mlops/api/compare/metrics?run_ids=a,b%2Fc&key=loss%2Fx&max_points=1000'
    );
    const ids = Array.from({ length: MAX_BATCH_RUNS + 20 }, (_, i) => `r${i}`);
    const byRun = await client.metricHistories(ids, 'loss/x', 500);
    expect(calls).toHaveLength(2);
    expect(calls[0]).toContain(
      `run_ids=${ids.slice(0, MAX_BATCH_RUNS).join(',')}&key=loss%2Fx&max_points=500`
    );
    expect(calls[1]).toContain(`run_ids=${ids.slice(MAX_BATCH_RUNS).join(',')}&key=loss%2Fx`);
    expect(Array.from(byRun.keys())).toEqual(ids);
    expect(byRun.get('r105')?.values).toEqual([105]);
    calls.length = 0;
    expect((await client.metricHistories([], 'loss')).size).toBe(0);
    expect(calls).toEqual([]);
  });

  it('turns error bodies into MLOpsRequestError', async () => {
    const { settings } = fakeSettings(() => ({
      status: 400,
      body: { message: 'Bad filter', reason: 'InvalidFilterError' }
    }));
    const client = new MLOpsClient({ serverSettings: settings });
    await expect(client.runs({ filter: 'x' })).rejects.toBeInstanceOf(MLOpsRequestError);
    await expect(client.runs({ filter: 'x' })).rejects.toMatchObject({
      status: 400,
      message: 'Bad filter',
      reason: 'InvalidFilterError'
    });
  });
});
