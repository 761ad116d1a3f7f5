/**
 * The expressions of `tests/data/filter_corpus.json`, which the server's
 * filters also answer (tests/test_filters.py): the sidebar and the server
 * must agree on every one.
 */
import * as fs from 'fs';
import * as path from 'path';

import { FilterSyntaxError, matchAll, parseFilter } from '../filter';
import { matchesText } from '../model';
import { IRunSummary } from '../tokens';

interface ICorpus {
  now: number;
  runs: Array<{
    name: string;
    status: IRunSummary['status'];
    start_time: number;
    notebook_path: string | null;
    params: { [k: string]: string };
    metrics: { [k: string]: number };
    tags: { [k: string]: string };
  }>;
  filters: Array<{ filter: string; expect?: string[]; error?: string }>;
  searches: Array<{ search: string; expect: string[] }>;
}

const corpus: ICorpus = JSON.parse(
  fs.readFileSync(
    path.join(__dirname, '..', '..', '..', 'tests', 'data', 'filter_corpus.json'),
    'utf-8'
  )
);

const runs: IRunSummary[] = corpus.runs.map((r, i) => ({
  run_id: `0000000${i}`,
  name: r.name,
  experiment: 'corpus',
  experiment_id: '1',
  status: r.status,
  start_time: r.start_time,
  end_time: r.status === 'RUNNING' ? null : r.start_time + 1000,
  parent_run_id: null,
  notebook_path: r.notebook_path,
  params: r.params,
  metrics: r.metrics,
  tags: r.tags,
  last_update_time: r.start_time,
  lifecycle_stage: 'active',
  cell_id: null,
  kind: 'cell',
  user: null,
  host: null
}));

describe('the filter corpus shared with the server', () => {
  it.each(corpus.filters.map(c => [c.filter, c]))('%s', (_, c) => {
    if (c.error) {
      expect(() => parseFilter(c.filter, corpus.now)).toThrow(FilterSyntaxError);
      expect(() => parseFilter(c.filter, corpus.now)).toThrow(c.error);
      return;
    }
    const clauses = parseFilter(c.filter, corpus.now);
    const names = runs.filter(r => matchAll(r, clauses)).map(r => r.name);
    expect(names.sort()).toEqual([...(c.expect ?? [])].sort());
  });

  it.each(corpus.searches.map(c => [c.search, c]))('search %s', (_, c) => {
    const names = runs.filter(r => matchesText(r, c.search)).map(r => r.name);
    expect(names.sort()).toEqual([...c.expect].sort());
  });
});
