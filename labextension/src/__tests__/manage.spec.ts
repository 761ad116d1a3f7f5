/**
 * Run management on the client side: the REST calls (method, body, XSRF
 * header), the archived view of the model, the controller's bookkeeping,
 * and the CSV export of the table.
 */
import { ServerConnection } from '@jupyterlab/services';

import { MLOpsClient, MLOpsRequestError } from '../api';
import { MLOpsController } from '../controller';
import { csvField, runsToCsv } from '../csv';
import { RunsModel } from '../model';
import { makeRun } from './helpers';

interface ICall {
  method: string;
  url: string;
  body: any;
  headers: Headers;
}

type Answer = { status?: number; body?: unknown };

function fakeServer(respond: (call: ICall) => Answer | Promise<Answer>): {
  client: MLOpsClient;
  calls: ICall[];
} {
  const calls: ICall[] = [];
  const fetchImpl = async (input: Request) => {
    const text = await input.text();
    const call: ICall = {
      method: input.method,
      url: input.url.replace(/[?&]\d{10,}$/, ''),
      body: text ? JSON.parse(text) : undefined,
      headers: input.headers
    };
    calls.push(call);
    const { status = 200, body = {} } = await respond(call);
    return new Response(JSON.stringify(body), {
      status,
      headers: { 'Content-Type': 'application/json' }
    });
  };
  // a browser page logged in by cookie: makeRequest echoes the _xsrf cookie
  document.cookie = '_xsrf=xsrf-value';
  const serverSettings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/',
    wsUrl: 'ws://localhost:8888/',
    token: '',
    fetch: fetchImpl as any,
    Request: Request as any,
    Headers: Headers as any
  });
  return { client: new MLOpsClient({ serverSettings }), calls };
}

describe('REST calls of run management', () => {
  it('sends PATCH, POST and DELETE with JSON bodies and the XSRF header', async () => {
    const { client, calls } = fakeServer(call => ({
      body: call.method === 'PATCH' ? makeRun({ name: 'renamed' }) : { run_ids: ['a', 'b'] }
    }));
    const detail = await client.editRun('r/1', { name: 'renamed', tags: { x: null } });
    expect(detail.name).toBe('renamed');
    expect(await client.archiveRuns(['a'])).toEqual(['a', 'b']);
    expect(await client.restoreRuns(['a'], false)).toEqual(['a', 'b']);
    expect(await client.purgeRun('a')).toEqual(['a', 'b']);
    expect(calls.map(c => [c.method, c.url, c.body])).toEqual([
      [
        'PATCH',
        'http://localhost:8888/jupyter-mlops/api/runs/r%2F1',
        { name: 'renamed', tags: { x: null } }
      ],
      [
        'POST',
        'http://localhost:8888/jupyter-mlops/api/runs/archive',
        { run_ids: ['a'], children: true }
      ],
      [
        'POST',
        'http://localhost:8888/jupyter-mlops/api/runs/restore',
        { run_ids: ['a'], children: false }
      ],
      ['DELETE', 'http://localhost:8888/jupyter-mlops/api/runs/a', undefined]
    ]);
    for (const call of calls) {
      expect(call.headers.get('X-XSRFToken')).toBe('xsrf-value');
    }
    expect(calls[0].headers.get('Content-Type')).toBe('application/json');
  });

  it('turns a refusal into an error carrying the server message and reason', async () => {
    const { client } = fakeServer(() => ({
      status: 409,
      body: { message: 'Only archived runs can be purged', reason: 'RunLifecycleError' }
    }));
    const error = await client.purgeRun('a').catch(e => e);
    expect(error).toBeInstanceOf(MLOpsRequestError);
    expect(error.status).toBe(409);
    expect(error.reason).toBe('RunLifecycleError');
    expect(error.message).toContain('archived');
  });
});

describe('archived runs in the model', () => {
  it('lists either the active or the archived runs', () => {
    const model = new RunsModel();
    const active = makeRun({ name: 'kept' });
    const old = makeRun({ name: 'old', lifecycle_stage: 'deleted' });
    const legacy = makeRun({ name: 'legacy' }); // a server without lifecycle_stage
    delete (legacy as any).lifecycle_stage;
    model.setRuns([active, old, legacy]);
    expect(model.visibleRuns.map(r => r.name).sort()).toEqual(['kept', 'legacy']);
    expect(model.serverLifecycle).toBe('active');
    model.showArchived = true;
    expect(model.serverLifecycle).toBe('deleted');
    expect(model.visibleRuns.map(r => r.name)).toEqual(['old']);
  });

  it('hides runs archived elsewhere (a live event) and drops them from the selection', () => {
    const model = new RunsModel();
    const run = makeRun();
    model.setRuns([run, makeRun()]);
    model.toggleSelected(run.run_id);
    model.setLifecycle([run.run_id], 'deleted');
    expect(model.visibleRuns.some(r => r.run_id === run.run_id)).toBe(false);
    expect(model.selectedIds).toEqual([]);
    // a live event with the same last_update_time still applies (restore elsewhere)
    model.mergeRun({ ...model.getRun(run.run_id)!, lifecycle_stage: 'active' });
    expect(model.visibleRuns.some(r => r.run_id === run.run_id)).toBe(true);
  });

  it('"select all" selects every matching run, not only those in view', () => {
    const model = new RunsModel();
    const runs = Array.from({ length: 300 }, (_, i) => makeRun({ params: { lr: String(i % 3) } }));
    model.setRuns(runs);
    model.query = "params.lr = '1'";
    model.selectAllVisible();
    expect(model.selectedIds).toHaveLength(100);
    expect(model.selectedIds.every(id => model.getRun(id)!.params.lr === '1')).toBe(true);
  });
});

describe('controller bookkeeping', () => {
  it('archives, restores and purges, keeping the list in step', async () => {
    const a = makeRun({ name: 'a' });
    const b = makeRun({ name: 'b', parent_run_id: a.run_id });
    const { client } = fakeServer(call => {
      if (call.url.endsWith('/runs/archive') || call.url.endsWith('/runs/restore')) {
        return { body: { run_ids: [a.run_id, b.run_id] } };
      }
      if (call.method === 'DELETE') {
        return { body: { run_ids: [a.run_id, b.run_id] } };
      }
      if (call.method === 'PATCH') {
        return { body: { ...a, name: 'renamed', note: 'n', source: 'x', cells: [] } };
      }
      return { body: {} };
    });
    const model = new RunsModel();
    const controller = new MLOpsController({ client, model });
    model.setRuns([a, b]);
    const changed: string[] = [];
    controller.runChanged.connect((_, run) => changed.push(run.run_id));
    await controller.archive([a.run_id]);
    expect(model.visibleRuns).toEqual([]);
    expect(changed).toEqual([a.run_id, b.run_id]); // open detail views reload
    model.showArchived = true;
    expect(model.visibleRuns.map(r => r.name).sort()).toEqual(['a', 'b']);
    await controller.restore([a.run_id]);
    expect(model.visibleRuns).toEqual([]);
    model.showArchived = false;
    await controller.edit(a.run_id, { name: 'renamed' });
    const held = model.getRun(a.run_id)!;
    expect(held.name).toBe('renamed');
    expect('source' in held).toBe(false); // the list keeps summaries only
    await controller.purge([a.run_id, b.run_id]);
    expect(model.size).toBe(0);
    controller.dispose();
  });

  it('keeps a purged run out when news sent before the deletion arrives after it', async () => {
    const a = makeRun({ name: 'a', lifecycle_stage: 'deleted' });
    const keep = makeRun({ name: 'keep', lifecycle_stage: 'deleted' });
    let answerList: (() => void) | null = null;
    let lists = 0;
    const { client, calls } = fakeServer(call => {
      if (call.method === 'DELETE') {
        return { body: { run_ids: [a.run_id] } };
      }
      if (/\/runs\?/.test(call.url)) {
        lists++;
        // the first load is answered (with `a`) only after the purge
        const body = { runs: lists === 1 ? [a, keep] : [keep], total: lists === 1 ? 2 : 1 };
        return lists === 1
          ? new Promise<Answer>(resolve => (answerList = () => resolve({ body })))
          : { body };
      }
      return { body: { experiments: [] } };
    });
    const model = new RunsModel();
    model.showArchived = true;
    const controller = new MLOpsController({ client, model });
    model.setRuns([a, keep]);
    const loading = controller.reload();
    await new Promise(resolve => setTimeout(resolve, 10));
    expect(answerList).not.toBeNull(); // the load is under way
    controller.handleRunEvent({ ...a, last_update_time: a.last_update_time + 1 });
    await controller.purge([a.run_id]);
    answerList!();
    await loading;
    await new Promise(resolve => setTimeout(resolve, 400)); // events flushed, reload done
    expect(model.getRun(a.run_id)).toBeUndefined();
    expect(model.visibleRuns.map(r => r.name)).toEqual(['keep']);
    expect(lists).toBe(2); // the load answered before the purge was started again
    // a poll's page from before the deletion cannot bring it back either
    model.mergeRuns([a]);
    expect(model.getRun(a.run_id)).toBeUndefined();
    // a full load that lists it again (a journal replayed it) does
    model.setRuns([a, keep]);
    expect(model.getRun(a.run_id)).toBeDefined();
    expect(calls.filter(c => c.method === 'DELETE')).toHaveLength(1);
    controller.dispose();
  });
});

describe('CSV export', () => {
  it('quotes what needs quoting and defuses spreadsheet formulas', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('=cmd()')).toBe("'=cmd()");
    expect(csvField(-1.5)).toBe('-1.5');
    expect(csvField(NaN)).toBe('NaN');
    expect(csvField(Infinity)).toBe('inf');
    expect(csvField(-Infinity)).toBe('-inf');
    expect(csvField(null)).toBe('');
  });

  it('writes the rows shown with the identity and chosen columns', () => {
    const run = makeRun({
      run_id: 'r1',
      name: 'sgd, fast',
      start_time: Date.UTC(2026, 11, 1, 10, 0, 0),
      end_time: Date.UTC(2026, 11, 1, 10, 1, 30),
      params: { lr: '0.01' },
      metrics: { acc: 0.91, loss: null }
    });
    const csv = runsToCsv([run], ['params.lr', 'metrics.acc', 'metrics.loss', 'name']);
    const [header, row, end] = csv.split('\r\n');
    expect(header).toBe(
      'run_id,name,experiment,status,start_time,end_time,duration_s,parent_run_id,params.lr,metrics.acc,metrics.loss'
    );
    expect(row).toBe(
      'r1,"sgd, fast",default,FINISHED,2026-12-01T10:00:00.000Z,2026-12-01T10:01:30.000Z,90,,0.01,0.91,'
    );
    expect(end).toBe('');
  });
});
