/**
 * A client-side evaluator of the MLflow search syntax the server accepts in
 * `GET runs?filter=`: a conjunction (`and`) of `key op value` comparisons.
 *
 *   metrics.acc > 0.9 and params.lr = '0.1' and tags.team = 'x'
 *   and status = 'FINISHED' and name LIKE 'sgd%'
 *   and params.opt IN ('sgd', 'adam') and name NOT LIKE 'tmp%'
 *   and tags.owner IS NULL and metrics.loss IS NOT NULL
 *
 * It refuses what the server refuses (a metric compared with a string,
 * params and tags ordered with < >, an unknown status), so a bad filter gets
 * its message at once.
 *
 * It lets the runs list apply the same filter to runs that arrive live over
 * the event stream, without a round trip.
 */
import { IRunSummary } from './tokens';

export type FilterOp =
  | '='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | 'LIKE'
  | 'ILIKE'
  | 'IN'
  | 'IS NULL'
  | 'IS NOT NULL';

export type FilterValue = string | number;

export interface IFilterClause {
  /** `metrics.acc`, `params.lr`, `tags.team`, or an attribute (`status`, `name`...). */
  key: string;
  op: FilterOp;
  /** A list for `IN`, `null` for `IS [NOT] NULL`. */
  value: FilterValue | FilterValue[] | null;
  /** `NOT LIKE`, `NOT ILIKE`, `NOT IN`. */
  negate?: boolean;
}

const RUN_STATUS_VALUES = ['RUNNING', 'FINISHED', 'FAILED', 'KILLED'];
/** Run attributes holding numbers (ms since the epoch); every other one is text. */
const NUMERIC_ATTRIBUTES = ['start_time', 'end_time', 'last_update_time'];

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
  type: 'ident' | 'string' | 'number' | 'op' | 'and' | 'paren' | 'word';
  text: string;
}

/** Keywords of the syntax (case-insensitive), tokens of type `word`. */
const WORDS = ['NOT', 'IN', 'IS', 'NULL'];

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
    if (c === '(' || c === ')' || c === ',') {
      tokens.push({ type: 'paren', text: c });
      i++;
      continue;
    }
    const num = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(expr.slice(i));
    const prev = tokens[tokens.length - 1];
    if (num && (!prev || prev.type === 'op' || prev.type === 'paren')) {
      tokens.push({ type: 'number', text: num[0] });
      i += num[0].length;
      continue;
    }
    // identifier: letters, digits, _ . - / : and `backtick quoted` parts
    let j = i;
    let text = '';
    while (j < n && !/[\s=<>!'"(),]/.test(expr[j])) {
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
    } else if (WORDS.includes(upper)) {
      tokens.push({ type: 'word', text: upper });
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

function literal(token: IToken | undefined): FilterValue | undefined {
  if (token?.type === 'string') {
    return token.text;
  }
  if (token?.type === 'number') {
    return Number(token.text);
  }
  return undefined;
}

/** The server's refusals, so that they show in the panel before a round trip. */
function checkClause(clause: IFilterClause): IFilterClause {
  const { key, op } = clause;
  const values =
    clause.value === null
      ? []
      : Array.isArray(clause.value)
        ? clause.value
        : [clause.value];
  if (op === 'IS NULL' || op === 'IS NOT NULL') {
    return clause;
  }
  if (key.startsWith('metrics.')) {
    const text = values.find(v => typeof v === 'string');
    if (op === 'LIKE' || op === 'ILIKE' || text !== undefined) {
      throw new FilterSyntaxError(
        `${key} is numeric: compare it with a number` +
          (text !== undefined ? `, not '${text}'` : '')
      );
    }
  } else if (key.startsWith('params.') || key.startsWith('tags.')) {
    if (op === '<' || op === '<=' || op === '>' || op === '>=') {
      throw new FilterSyntaxError(
        `${key} values are strings: use =, !=, LIKE, ILIKE or IN`
      );
    }
  } else if (NUMERIC_ATTRIBUTES.includes(key)) {
    const text = values.find(v => typeof v === 'string');
    if (op === 'LIKE' || op === 'ILIKE' || text !== undefined) {
      throw new FilterSyntaxError(
        `${key} is a number (milliseconds since the epoch): compare it with a number` +
          (text !== undefined ? `, not '${text}'` : '')
      );
    }
  } else if (values.some(v => typeof v !== 'string')) {
    const bad = values.find(v => typeof v !== 'string');
    throw new FilterSyntaxError(
      `${key} is text: compare it with a 'quoted string', not ${bad}`
    );
  }
  if (key === 'status' && (op === '=' || op === '!=' || op === 'IN')) {
    const upper = values.map(v => (typeof v === 'string' ? v.toUpperCase() : v));
    const bad = upper.find(v => !RUN_STATUS_VALUES.includes(String(v)));
    if (bad !== undefined) {
      throw new FilterSyntaxError(
        `Unknown status '${bad}'; use one of ${RUN_STATUS_VALUES.join(', ')}`
      );
    }
    return { ...clause, value: op === 'IN' ? upper : upper[0] };
  }
  return clause;
}

/** Parse a filter expression; an empty string is an empty conjunction. */
export function parseFilter(expr: string): IFilterClause[] {
  const tokens = tokenize(expr);
  const clauses: IFilterClause[] = [];
  let i = 0;
  while (i < tokens.length) {
    const key = tokens[i];
    if (!key || key.type !== 'ident') {
      throw new FilterSyntaxError(`Expected a key, got '${key?.text ?? ''}'`);
    }
    const nkey = normalizeKey(key.text);
    i++;
    let op = tokens[i];
    if (op?.type === 'word' && op.text === 'IS') {
      const notNull = tokens[i + 1]?.text === 'NOT';
      const nullToken = tokens[i + (notNull ? 2 : 1)];
      if (nullToken?.type !== 'word' || nullToken.text !== 'NULL') {
        throw new FilterSyntaxError(
          `Expected NULL or NOT NULL after '${key.text} IS'`
        );
      }
      clauses.push({ key: nkey, op: notNull ? 'IS NOT NULL' : 'IS NULL', value: null });
      i += notNull ? 3 : 2;
    } else {
      const negate = op?.type === 'word' && op.text === 'NOT';
      if (negate) {
        i++;
        op = tokens[i];
        const ok = op?.text === 'LIKE' || op?.text === 'ILIKE' || op?.text === 'IN';
        if (!ok) {
          throw new FilterSyntaxError(
            `Expected LIKE, ILIKE or IN after '${key.text} NOT'`
          );
        }
      }
      if (op?.type === 'word' && op.text === 'IN') {
        i++;
        if (tokens[i]?.text !== '(') {
          throw new FilterSyntaxError(
            `IN must be followed by a list such as ('a', 'b')`
          );
        }
        i++;
        const values: FilterValue[] = [];
        while (i < tokens.length && tokens[i].text !== ')') {
          const v = literal(tokens[i]);
          if (v === undefined) {
            throw new FilterSyntaxError(
              `Expected a number or a quoted string in the IN list, got '${tokens[i].text}'`
            );
          }
          values.push(v);
          i++;
          if (tokens[i]?.text === ',') {
            i++;
          }
        }
        if (i >= tokens.length) {
          throw new FilterSyntaxError('Unclosed IN list: add )');
        }
        if (!values.length) {
          throw new FilterSyntaxError('IN list is empty');
        }
        i++;
        clauses.push(
          checkClause({ key: nkey, op: 'IN', value: values, ...(negate ? { negate } : {}) })
        );
      } else {
        if (!op || op.type !== 'op') {
          throw new FilterSyntaxError(`Expected an operator after '${key.text}'`);
        }
        const value = literal(tokens[i + 1]);
        if (value === undefined) {
          throw new FilterSyntaxError(
            `Expected a number or a quoted string after '${key.text} ${op.text}'`
          );
        }
        if ((op.text === 'LIKE' || op.text === 'ILIKE') && typeof value !== 'string') {
          throw new FilterSyntaxError(`${op.text} needs a quoted pattern`);
        }
        clauses.push(
          checkClause({
            key: nkey,
            op: op.text as FilterOp,
            value,
            ...(negate ? { negate } : {})
          })
        );
        i += 2;
      }
    }
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
  return /[=<>]|\s(i?like)\s|\sin\s*\(|\sis\s+(not\s+)?null\b/i.test(text);
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

function compare(actual: unknown, value: FilterValue): number {
  const a = toNumber(actual);
  const b = toNumber(value);
  if (a !== null && b !== null && (typeof actual === 'number' || typeof value === 'number')) {
    return a === b ? 0 : a < b ? -1 : 1;
  }
  const sa = String(actual);
  const sb = String(value);
  return sa === sb ? 0 : sa < sb ? -1 : 1;
}

function hasKey(run: IRunSummary, key: string): boolean {
  const dot = key.indexOf('.');
  const group = dot > 0 ? key.slice(0, dot) : '';
  if (group === 'metrics' || group === 'params' || group === 'tags') {
    const values = (run as any)[group] as { [k: string]: unknown } | undefined;
    return !!values && Object.prototype.hasOwnProperty.call(values, key.slice(dot + 1));
  }
  const v = runValue(run, key);
  return v !== null && v !== undefined;
}

/** Evaluate one clause on a run. A missing key never matches (but NOT ... does). */
export function matchClause(run: IRunSummary, clause: IFilterClause): boolean {
  const { op, value } = clause;
  if (op === 'IS NULL' || op === 'IS NOT NULL') {
    // a logged NaN metric (null in JSON) is not NULL: the server has its series
    return hasKey(run, clause.key) === (op === 'IS NOT NULL');
  }
  const actual = runValue(run, clause.key);
  let match: boolean;
  if (actual === undefined || actual === null) {
    match = false;
  } else if (op === 'LIKE' || op === 'ILIKE') {
    match = likeRegExp(String(value), op === 'ILIKE').test(String(actual));
  } else if (op === 'IN') {
    match = (value as FilterValue[]).some(v => compare(actual, v) === 0);
  } else {
    const cmp = compare(actual, value as FilterValue);
    switch (op) {
      case '=':
        match = cmp === 0;
        break;
      case '!=':
        match = cmp !== 0;
        break;
      case '<':
        match = cmp < 0;
        break;
      case '<=':
        match = cmp <= 0;
        break;
      case '>':
        match = cmp > 0;
        break;
      case '>=':
        match = cmp >= 0;
        break;
      default:
        match = false;
    }
  }
  return clause.negate ? !match : match;
}

export function matchAll(run: IRunSummary, clauses: IFilterClause[]): boolean {
  for (const clause of clauses) {
    if (!matchClause(run, clause)) {
      return false;
    }
  }
  return true;
}
