/**
 * A client-side evaluator of the MLflow search syntax the server accepts in
 * `GET runs?filter=`: a conjunction (`and`) of `key op value` comparisons.
 *
 *   metrics.acc > 0.9 and params.lr = '0.1' and tags.team = 'x'
 *   and status = 'FINISHED' and name LIKE 'sgd%'
 *
 * It lets the runs list apply the same filter to runs that arrive live over
 * the event stream, without a round trip.
 */
import { IRunSummary } from './tokens';

export type FilterOp = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'LIKE' | 'ILIKE';

export interface IFilterClause {
  /** `metrics.acc`, `params.lr`, `tags.team`, or an attribute (`status`, `name`...). */
  key: string;
  op: FilterOp;
  value: string | number;
}

/** Attributes a filter (and the sort) may name without a prefix. */
export const ATTRIBUTES = [
  'run_id',
  'name',
  'status',
  'experiment',
  'experiment_id',
  'start_time',
  'end_time',
  'notebook_path',
  'parent_run_id'
];

const PREFIXES = ['metrics', 'params', 'tags', 'attributes'];
const PREFIX_ALIASES: { [key: string]: string } = {
  metric: 'metrics',
  param: 'params',
  parameter: 'params',
  parameters: 'params',
  tag: 'tags',
  attribute: 'attributes',
  attr: 'attributes',
  run: 'attributes'
};

export class FilterSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterSyntaxError';
  }
}

interface IToken {
  type: 'ident' | 'string' | 'number' | 'op' | 'and';
  text: string;
}

function tokenize(expr: string): IToken[] {
  const tokens: IToken[] = [];
  let i = 0;
  const n = expr.length;
  while (i < n) {
    const c = expr[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      let text = '';
      while (j < n && expr[j] !== c) {
        if (expr[j] === '\\' && j + 1 < n) {
          j++;
        }
        text += expr[j];
        j++;
      }
      if (j >= n) {
        throw new FilterSyntaxError(`Unterminated string starting at ${i + 1}`);
      }
      tokens.push({ type: 'string', text });
      i = j + 1;
      continue;
    }
    const two = expr.slice(i, i + 2);
    if (two === '!=' || two === '<=' || two === '>=' || two === '==' || two === '<>') {
      tokens.push({ type: 'op', text: two === '==' ? '=' : two === '<>' ? '!=' : two });
      i += 2;
      continue;
    }
    if (c === '=' || c === '<' || c === '>') {
      tokens.push({ type: 'op', text: c });
      i++;
      continue;
    }
    const num = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(expr.slice(i));
    if (num && (tokens.length === 0 || tokens[tokens.length - 1].type === 'op')) {
      tokens.push({ type: 'number', text: num[0] });
      i += num[0].length;
      continue;
    }
    // identifier: letters, digits, _ . - / : and `backtick quoted` parts
    let j = i;
    let text = '';
    while (j < n && !/[\s=<>!'"]/.test(expr[j])) {
      if (expr[j] === '`') {
        const end = expr.indexOf('`', j + 1);
        if (end < 0) {
          throw new FilterSyntaxError(`Unterminated \` starting at ${j + 1}`);
        }
        text += expr.slice(j + 1, end);
        j = end + 1;
        continue;
      }
      text += expr[j];
      j++;
    }
    if (j === i) {
      throw new FilterSyntaxError(`Unexpected character '${c}' at ${i + 1}`);
    }
    const upper = text.toUpperCase();
    if (upper === 'AND') {
      tokens.push({ type: 'and', text });
    } else if (upper === 'LIKE' || upper === 'ILIKE') {
      tokens.push({ type: 'op', text: upper });
    } else {
      tokens.push({ type: 'ident', text });
    }
    i = j;
  }
  return tokens;
}

/** Normalise a key: `metric.acc` -> `metrics.acc`, `attributes.status` -> `status`. */
export function normalizeKey(raw: string): string {
  const dot = raw.indexOf('.');
  if (dot > 0) {
    let prefix = raw.slice(0, dot).toLowerCase();
    prefix = PREFIX_ALIASES[prefix] ?? prefix;
    const rest = raw.slice(dot + 1);
    if (PREFIXES.includes(prefix)) {
      if (prefix === 'attributes') {
        return normalizeKey(rest);
      }
      return `${prefix}.${rest}`;
    }
  }
  const lower = raw.toLowerCase();
  if (ATTRIBUTES.includes(lower)) {
    return lower;
  }
  throw new FilterSyntaxError(
    `Unknown key '${raw}' (use metrics.<k>, params.<k>, tags.<k> or one of ${ATTRIBUTES.join(', ')})`
  );
}

/** Parse a filter expression; an empty string is an empty conjunction. */
export function parseFilter(expr: string): IFilterClause[] {
  const tokens = tokenize(expr);
  const clauses: IFilterClause[] = [];
  let i = 0;
  while (i < tokens.length) {
    const key = tokens[i];
    const op = tokens[i + 1];
    const value = tokens[i + 2];
    if (!key || key.type !== 'ident') {
      throw new FilterSyntaxError(`Expected a key, got '${key?.text ?? ''}'`);
    }
    if (!op || op.type !== 'op') {
      throw new FilterSyntaxError(`Expected an operator after '${key.text}'`);
    }
    if (!value || (value.type !== 'string' && value.type !== 'number')) {
      throw new FilterSyntaxError(
        `Expected a number or a quoted string after '${key.text} ${op.text}'`
      );
    }
    const nkey = normalizeKey(key.text);
    if ((op.text === 'LIKE' || op.text === 'ILIKE') && value.type !== 'string') {
      throw new FilterSyntaxError(`${op.text} needs a quoted pattern`);
    }
    clauses.push({
      key: nkey,
      op: op.text as FilterOp,
      value: value.type === 'number' ? Number(value.text) : value.text
    });
    i += 3;
    if (i < tokens.length) {
      if (tokens[i].type !== 'and') {
        throw new FilterSyntaxError(`Expected 'and', got '${tokens[i].text}'`);
      }
      i++;
      if (i >= tokens.length) {
        throw new FilterSyntaxError("Expected a comparison after 'and'");
      }
    }
  }
  return clauses;
}

/**
 * Whether a filter box text is meant as an expression (rather than as free
 * text to search for): it contains a comparison operator or LIKE.
 */
export function looksLikeExpression(text: string): boolean {
  return /[=<>]|\s(i?like)\s/i.test(text);
}

/** The value a key names on a run (`undefined` when the run lacks it). */
export function runValue(
  run: IRunSummary,
  key: string,
  now: number = Date.now()
): string | number | null | undefined {
  if (key.startsWith('metrics.')) {
    return run.metrics?.[key.slice(8)];
  }
  if (key.startsWith('params.')) {
    return run.params?.[key.slice(7)];
  }
  if (key.startsWith('tags.')) {
    return run.tags?.[key.slice(5)];
  }
  if (key === 'duration') {
    return durationMs(run, now);
  }
  return (run as any)[key];
}

/** Duration of a run in ms; a RUNNING run counts up to `now`. */
export function durationMs(run: IRunSummary, now: number = Date.now()): number | null {
  if (run.start_time === null || run.start_time === undefined) {
    return null;
  }
  if (run.end_time !== null && run.end_time !== undefined) {
    return Math.max(0, run.end_time - run.start_time);
  }
  return run.status === 'RUNNING' ? Math.max(0, now - run.start_time) : null;
}

const likeCache = new Map<string, RegExp>();

function likeRegExp(pattern: string, insensitive: boolean): RegExp {
  const cacheKey = `${insensitive ? 'i' : 's'}:${pattern}`;
  let re = likeCache.get(cacheKey);
  if (!re) {
    let src = '';
    for (const ch of pattern) {
      if (ch === '%') {
        src += '.*';
      } else if (ch === '_') {
        src += '.';
      } else {
        src += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      }
    }
    re = new RegExp(`^${src}$`, insensitive ? 'is' : 's');
    if (likeCache.size > 200) {
      likeCache.clear();
    }
    likeCache.set(cacheKey, re);
  }
  return re;
}

function toNumber(v: unknown): number | null {
  if (typeof v === 'number') {
    return Number.isNaN(v) ? null : v;
  }
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isNaN(n) ? null : n;
  }
  return null;
}

/** Evaluate one clause on a run. A missing key never matches. */
export function matchClause(run: IRunSummary, clause: IFilterClause): boolean {
  const actual = runValue(run, clause.key);
  if (actual === undefined || actual === null) {
    return false;
  }
  const { op, value } = clause;
  if (op === 'LIKE' || op === 'ILIKE') {
    return likeRegExp(String(value), op === 'ILIKE').test(String(actual));
  }
  const a = toNumber(actual);
  const b = toNumber(value);
  let cmp: number;
  if (a !== null && b !== null && (typeof actual === 'number' || typeof value === 'number')) {
    cmp = a === b ? 0 : a < b ? -1 : 1;
  } else {
    const sa = String(actual);
    const sb = String(value);
    cmp = sa === sb ? 0 : sa < sb ? -1 : 1;
  }
  switch (op) {
    case '=':
      return cmp === 0;
    case '!=':
      return cmp !== 0;
    case '<':
      return cmp < 0;
    case '<=':
      return cmp <= 0;
    case '>':
      return cmp > 0;
    case '>=':
      return cmp >= 0;
  }
  return false;
}

export function matchAll(run: IRunSummary, clauses: IFilterClause[]): boolean {
  for (const clause of clauses) {
    if (!matchClause(run, clause)) {
      return false;
    }
  }
  return true;
}
