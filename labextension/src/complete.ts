/**
 * Key completion in the filter box (pure): the word being typed at the caret,
 * when it is where a key goes (the start, or after `and`), and the known keys
 * it could become.
 */
import { ATTRIBUTES } from './filter';

export interface ICompletion {
  /** Replace `text.slice(from, to)` with a suggestion. */
  from: number;
  to: number;
  suggestions: string[];
}

/** A key as the filter syntax writes it: backticks around a name with spaces. */
export function quoteKey(key: string): string {
  const dot = key.indexOf('.');
  const prefix = dot > 0 ? key.slice(0, dot) : '';
  const name = dot > 0 ? key.slice(dot + 1) : key;
  if (prefix && !/^[A-Za-z_][\w.\-/:]*$/.test(name)) {
    return `${prefix}.\`${name}\``;
  }
  return key;
}

/**
 * Suggestions for the word ending at `caret`: keys (`params.lr`, `status`...)
 * starting with it, then keys containing it; at most `max`.
 */
export function completeKey(
  text: string,
  caret: number,
  keys: string[],
  max = 12
): ICompletion | null {
  const before = text.slice(0, caret);
  // a key: `params.lr`, or `metrics.` then a backtick-quoted name being typed
  const word = /[A-Za-z_][\w.\-/:]*(`[^`]*`?)?$/.exec(before);
  const start = word ? caret - word[0].length : caret;
  const typed = word ? word[0] : '';
  if (!typed) {
    return null;
  }
  const head = before.slice(0, start).trimEnd();
  if (head && !/(^|\s)and$/i.test(head)) {
    return null; // a value or an operator goes here, not a key
  }
  const needle = typed.replace(/`/g, '').toLowerCase();
  const candidates = [...ATTRIBUTES, ...keys];
  const starts = candidates.filter(k => k.toLowerCase().startsWith(needle));
  const contains = candidates.filter(
    k => !starts.includes(k) && k.toLowerCase().includes(needle)
  );
  const suggestions = [...starts, ...contains]
    .filter(k => k.toLowerCase() !== needle)
    .slice(0, max)
    .map(quoteKey);
  if (!suggestions.length) {
    return null;
  }
  let to = caret;
  while (to < text.length && /[\w.`\-/:]/.test(text[to])) {
    to++;
  }
  return { from: start, to, suggestions };
}
