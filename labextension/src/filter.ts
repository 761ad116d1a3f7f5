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
 * A param compared with a number compares as a number (`params.lr < 0.01`; a
 * param that is not a number never matches). Times take milliseconds, a UTC
 * date or date-time (`start_time > '2026-12-01'`) or a time relative to now
 * (`start_time > -1d`).
 *
 * It lets the runs list apply the same filter to runs that arrive live over
 * the event stream, without a round trip. The server and this evaluator both
 * run the expressions of `tests/data/filter_corpus.json`.
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

/** `-1d`: a time relative to when the filter was parsed (times only). */
export interface IRelativeTime {
  relative: string;
}

export type FilterValue = string | number | IRelativeTime;

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
  type:
    | 'ident'
    | 'string'
    | 'number'
    | 'relative'
    | 'op'
    | 'and'
    | 'paren'
    | 'word';
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
    if (
      two === '!=' ||
      two === '<=' ||
      two === '>=' ||
      two === '==' ||
      two === '<>'
    ) {
      tokens.push({
        type: 'op',
        text: two === '==' ? '=' : two === '<>' ? '!=' : two
      });
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
    const prev = tokens[tokens.length - 1];
    const valueAllowed = !prev || prev.type === 'op' || prev.type === 'paren';
    const rel = /^[-+]?\d+(\.\d+)?[smhdw](?![\w.])/.exec(expr.slice(i));
    if (rel && valueAllowed) {
      tokens.push({ type: 'relative', text: rel[0] });
      i += rel[0].length;
      continue;
    }
    const num = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(expr.slice(i));
    if (num && valueAllowed) {
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
  if (token?.type === 'relative') {
    return { relative: token.text };
  }
  return undefined;
}

/** A param's text as a number, when the whole text is one (`1e-3`, `-2`, `+.5`). */
export const NUMBER_PATTERN =
  /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/;

const TIME_UNITS_MS: { [unit: string]: number } = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000
};

const TIME_HELP =
  "milliseconds since the epoch, a date or date-time in UTC ('2026-12-01', " +
  "'2026-12-01 14:30', '2026-12-01T14:30:00+02:00') or a time relative to now " +
  '(-1d, -2h, -30m, -1w)';

/**
 * Milliseconds since the epoch for a date, a date-time (UTC unless it has an
 * offset) or a relative time such as `-1d`; null when the text is none of
 * them. As the server's `filters.parse_time`.
 */
export function parseTime(text: string, now: number): number | null {
  const rel = /^\s*([-+]?\d+(?:\.\d+)?)\s*([smhdw])\s*$/.exec(text);
  if (rel) {
    return now + Math.round(Number(rel[1]) * TIME_UNITS_MS[rel[2]]);
  }
  const m =
    /^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$/.exec(
      text
    );
  if (!m) {
    return null;
  }
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map(i =>
    Number(m[i] ?? 0)
  );
  const base = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(base);
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    check.getUTCHours() !== hour ||
    check.getUTCMinutes() !== minute ||
    check.getUTCSeconds() !== second
  ) {
    return null; // 2026-13-01, 2026-02-30, 24:00...
  }
  const millis = Number((m[7] ?? '0').padEnd(3, '0').slice(0, 3));
  let offset = 0;
  const zone = m[8];
  if (zone && zone !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    offset =
      (zone[0] === '-' ? -1 : 1) *
      (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2)));
  }
  return base + millis - offset * 60_000;
}

function isRelative(v: unknown): v is IRelativeTime {
  return typeof v === 'object' && v !== null && 'relative' in v;
}

function show(v: FilterValue | FilterValue[] | null): string {
  if (Array.isArray(v)) {
    return `(${v.map(show).join(', ')})`;
  }
  if (isRelative(v)) {
    return v.relative;
  }
  return typeof v === 'string' ? `'${v}'` : String(v);
}

/** The server's refusals, so that they show in the panel before a round trip. */
function checkClause(clause: IFilterClause, now: number): IFilterClause {
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
  const relative = values.find(isRelative);
  if (relative && !NUMERIC_ATTRIBUTES.includes(key)) {
    throw new FilterSyntaxError(
      `A relative time (${relative.relative}) compares with a time only: ${NUMERIC_ATTRIBUTES.join(', ')}`
    );
  }
  if (key.startsWith('params.')) {
    const numbers = values.filter(v => typeof v === 'number');
    if ((op === 'LIKE' || op === 'ILIKE') && numbers.length) {
      throw new FilterSyntaxError(`${op} needs a quoted pattern`);
    }
    if (numbers.length && numbers.length !== values.length) {
      throw new FilterSyntaxError(
        `${key}: the IN list mixes numbers and strings ${show(clause.value)}; use one kind`
      );
    }
    if (
      !numbers.length &&
      (op === '<' || op === '<=' || op === '>' || op === '>=')
    ) {
      throw new FilterSyntaxError(
        `${key} compares as a number with ${op}: give a number, not ${show(clause.value)} ` +
          '(a quoted value compares as text, with =, !=, LIKE, ILIKE or IN)'
      );
    }
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
  } else if (key.startsWith('tags.')) {
    if (op === '<' || op === '<=' || op === '>' || op === '>=') {
      throw new FilterSyntaxError(
        `${key} values are strings: use =, !=, LIKE, ILIKE or IN`
      );
    }
  } else if (NUMERIC_ATTRIBUTES.includes(key)) {
    if (op === 'LIKE' || op === 'ILIKE') {
      throw new FilterSyntaxError(
        `${key} is a time: compare it with ${TIME_HELP}`
      );
    }
    const times = values.map(v => {
      if (typeof v === 'number') {
        return v;
      }
      const text = isRelative(v) ? v.relative : v;
      const stamp = parseTime(text, now);
      if (stamp === null) {
        throw new FilterSyntaxError(
          `${key} is a time: compare it with ${TIME_HELP}, not '${text}'`
        );
      }
      return stamp;
    });
    return { ...clause, value: Array.isArray(clause.value) ? times : times[0] };
  } else if (values.some(v => typeof v !== 'string')) {
    const bad = values.find(v => typeof v !== 'string');
    throw new FilterSyntaxError(
      `${key} is text: compare it with a 'quoted string', not ${bad}`
    );
  }
  if (key === 'status' && (op === '=' || op === '!=' || op === 'IN')) {
    const upper = values.map(v =>
      typeof v === 'string' ? v.toUpperCase() : v
    );
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

/**
 * Parse a filter expression; an empty string is an empty conjunction.
 * Relative times (`-1d`) count from `now`.
 */
export function parseFilter(
  expr: string,
  now: number = Date.now()
): IFilterClause[] {
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
      clauses.push({
        key: nkey,
        op: notNull ? 'IS NOT NULL' : 'IS NULL',
        value: null
      });
      i += notNull ? 3 : 2;
    } else {
      const negate = op?.type === 'word' && op.text === 'NOT';
      if (negate) {
        i++;
        op = tokens[i];
        const ok =
          op?.text === 'LIKE' || op?.text === 'ILIKE' || op?.text === 'IN';
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
          checkClause(
            {
              key: nkey,
              op: 'IN',
              value: values,
              ...(negate ? { negate } : {})
            },
            now
          )
        );
      } else {
        if (!op || op.type !== 'op') {
          throw new FilterSyntaxError(
            `Expected an operator after '${key.text}'`
          );
        }
        const value = literal(tokens[i + 1]);
        if (value === undefined) {
          throw new FilterSyntaxError(
            `Expected a number or a quoted string after '${key.text} ${op.text}'`
          );
        }
        if (
          (op.text === 'LIKE' || op.text === 'ILIKE') &&
          typeof value !== 'string'
        ) {
          throw new FilterSyntaxError(`${op.text} needs a quoted pattern`);
        }
        clauses.push(
          checkClause(
            {
              key: nkey,
              op: op.text as FilterOp,
              value,
              ...(negate ? { negate } : {})
            },
            now
          )
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
export function durationMs(
  run: IRunSummary,
  now: number = Date.now()
): number | null {
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
  if (
    a !== null &&
    b !== null &&
    (typeof actual === 'number' || typeof value === 'number')
  ) {
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
    return (
      !!values &&
      Object.prototype.hasOwnProperty.call(values, key.slice(dot + 1))
    );
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
  let actual = runValue(run, clause.key);
  const values = Array.isArray(value) ? value : [value];
  if (
    clause.key.startsWith('params.') &&
    values.some(v => typeof v === 'number') &&
    actual !== undefined &&
    actual !== null
  ) {
    // compared with a number: the param's text as a number, or no match
    const text = String(actual);
    actual = NUMBER_PATTERN.test(text) ? Number(text) : undefined;
  }
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
