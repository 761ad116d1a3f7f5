import {
  FilterSyntaxError,
  looksLikeExpression,
  matchAll,
  normalizeKey,
  parseFilter
} from '../filter';
import { IRunSummary } from '../tokens';

const base: IRunSummary = {
  run_id: 'abc123',
  name: 'sgd-lr0.1',
  experiment: 'mnist',
  experiment_id: '1',
  status: 'FINISHED',
  start_time: 1000,
  end_time: 2000,
  parent_run_id: null,
  notebook_path: 'nb.ipynb',
  params: { lr: '0.1', opt: 'sgd', 'my key': 'v' },
  metrics: { acc: 0.93, loss: 0.2, nan: null },
  tags: { team: 'vision' },
  last_update_time: 2000,
  lifecycle_stage: 'active',
  cell_id: null,
  kind: 'cell',
  user: null,
  host: null
};

describe('parseFilter', () => {
  it('parses a conjunction of comparisons', () => {
    expect(parseFilter('metrics.acc > 0.9 and params.lr = \'0.1\' AND tags.team != "x"')).toEqual([
      { key: 'metrics.acc', op: '>', value: 0.9 },
      { key: 'params.lr', op: '=', value: '0.1' },
      { key: 'tags.team', op: '!=', value: 'x' }
    ]);
  });

  it('accepts LIKE/ILIKE, attributes, aliases and backticks', () => {
    expect(parseFilter("name like 'sgd%'")).toEqual([{ key: 'name', op: 'LIKE', value: 'sgd%' }]);
    expect(parseFilter("attributes.status = 'FAILED'")[0].key).toBe('status');
    expect(parseFilter('metric.acc>=0.5')).toEqual([{ key: 'metrics.acc', op: '>=', value: 0.5 }]);
    expect(parseFilter("params.`my key` = 'v'")[0].key).toBe('params.my key');
    expect(parseFilter('metrics.loss < -1e-3')[0].value).toBe(-0.001);
    expect(parseFilter('')).toEqual([]);
  });

  it('rejects malformed expressions', () => {
    for (const bad of [
      'metrics.acc >',
      'metrics.acc 0.9',
      'metrics.acc > 0.9 and',
      "metrics.acc > 0.9 or params.lr = '1'",
      "params.lr = 'unterminated",
      "unknown = 'x'",
      'name LIKE 5'
    ]) {
      expect(() => parseFilter(bad)).toThrow(FilterSyntaxError);
    }
  });
});

describe('matching', () => {
  const m = (expr: string) => matchAll(base, parseFilter(expr));

  it('compares metrics numerically', () => {
    expect(m('metrics.acc > 0.9')).toBe(true);
    expect(m('metrics.acc < 0.9')).toBe(false);
    expect(m('metrics.loss <= 0.2')).toBe(true);
    expect(m('metrics.missing > 0')).toBe(false);
    expect(m('metrics.nan > 0')).toBe(false);
  });

  it('compares params and tags as strings', () => {
    expect(m("params.lr = '0.1'")).toBe(true);
    expect(m("params.lr = '0.10'")).toBe(false);
    expect(m('params.lr = 0.1')).toBe(true); // numeric literal: numeric comparison
    expect(m("tags.team != 'nlp'")).toBe(true);
  });

  it('supports LIKE and ILIKE patterns', () => {
    expect(m("name LIKE 'sgd%'")).toBe(true);
    expect(m("name LIKE 'SGD%'")).toBe(false);
    expect(m("name ILIKE 'SGD%'")).toBe(true);
    expect(m("name LIKE 'sgd-lr_._'")).toBe(true);
    expect(m("params.opt LIKE 's.d'")).toBe(false); // '.' is literal
  });

  it('filters on attributes', () => {
    expect(m("status = 'FINISHED' and experiment = 'mnist'")).toBe(true);
    expect(m('start_time >= 1000 and end_time < 2000')).toBe(false);
  });
});

describe('helpers', () => {
  it('tells expressions from free text', () => {
    expect(looksLikeExpression('metrics.acc > 0.9')).toBe(true);
    expect(looksLikeExpression("name like 'x%'")).toBe(true);
    expect(looksLikeExpression('sgd baseline')).toBe(false);
    expect(looksLikeExpression('likely')).toBe(false);
  });

  it('normalises keys', () => {
    expect(normalizeKey('param.lr')).toBe('params.lr');
    expect(normalizeKey('Status')).toBe('status');
    expect(() => normalizeKey('foo')).toThrow(FilterSyntaxError);
  });
});

describe('the rest of the server syntax (IN, NOT, IS NULL)', () => {
  const m = (expr: string) => matchAll(base, parseFilter(expr));

  it('matches IN, NOT IN, NOT LIKE and IS [NOT] NULL like the server', () => {
    expect(m("params.lr IN ('0.1', '0.01')")).toBe(true);
    expect(m("params.opt NOT IN ('sgd')")).toBe(false);
    expect(m("params.opt not in ('adam', 'rmsprop')")).toBe(true);
    expect(m("status IN ('FAILED', 'KILLED')")).toBe(false);
    expect(m("status in ('finished')")).toBe(true);
    expect(m('metrics.acc IN (0.93, 1)')).toBe(true);
    expect(m("name NOT LIKE 'adam%'")).toBe(true);
    expect(m("name not ilike 'SGD%'")).toBe(false);
    expect(m('tags.owner IS NULL')).toBe(true);
    expect(m('tags.team IS NULL')).toBe(false);
    expect(m('tags.team is not null and metrics.acc > 0.9')).toBe(true);
    expect(m('parent_run_id IS NULL')).toBe(true);
    // a NaN metric was logged: it is not NULL (the server has its series)
    expect(m('metrics.nan IS NULL')).toBe(false);
    expect(m('metrics.never IS NULL')).toBe(true);
    expect(parseFilter("params.lr IN ('0.1', '2')")).toEqual([
      { key: 'params.lr', op: 'IN', value: ['0.1', '2'] }
    ]);
    // numbers compare as numbers (tests/data/filter_corpus.json has the rest)
    expect(m('params.lr IN (0.1, 2)')).toBe(true);
    expect(() => parseFilter("params.lr IN ('0.1', 2)")).toThrow(/mixes/);
  });

  it('takes them for expressions, not free text', () => {
    expect(looksLikeExpression("params.lr IN ('0.1')")).toBe(true);
    expect(looksLikeExpression('tags.x IS NULL')).toBe(true);
    expect(looksLikeExpression('tags.x is not null')).toBe(true);
    expect(looksLikeExpression("name NOT LIKE 'x%'")).toBe(true);
    expect(looksLikeExpression('runs in progress')).toBe(false);
    expect(looksLikeExpression('island')).toBe(false);
  });

  it('refuses what the server refuses, with a readable message', () => {
    for (const [bad, message] of [
      ["metrics.acc > 'x'", /numeric/],
      ["metrics.acc LIKE 'x%'", /numeric/],
      ["metrics.acc IN ('a')", /numeric/],
      ["params.lr > '0.05'", /compares as a number/],
      ["tags.team > 'a'", /strings/],
      ["status = 'DONE'", /Unknown status/],
      ["status IN ('FINISHED', 'DONE')", /Unknown status/],
      ['params.lr IN ()', /empty/],
      ["params.lr IN ('a'", /Unclosed/],
      ["params.lr IN 'a'", /list/],
      ['tags.x IS 5', /NULL/],
      ["start_time > 'abc'", /start_time is a time/],
      ["end_time LIKE '1%'", /end_time is a time/],
      ['name = 5', /name is text/],
      ["run_id IN ('a', 1)", /run_id is text/],
      ["name NOT = 'x'", /NOT/]
    ] as Array<[string, RegExp]>) {
      expect(() => parseFilter(bad)).toThrow(message);
    }
  });
});
