/**
 * Column layout of the runs list for the width it has (pure).
 *
 * The sidebar is narrow by default (about 250 px), so the list degrades in
 * steps until its columns fit, instead of asking for a sideways scroll:
 *
 * 1. every column at its natural width;
 * 2. compact widths (short times, short durations, narrower values);
 * 3. without the Duration column;
 * 4. without the Started column;
 * 5. the status badge as a coloured dot.
 *
 * A column left out stays in the row's tooltip. Only columns the user chose
 * (params, metrics, tags) are never left out: when even step 5 does not fit,
 * the list scrolls sideways (`minWidth` > the width), and the name gets its
 * natural width back. Widths the user set by dragging hold in every step.
 */
import { IColumnInfo } from './model';

/** Width of the compare checkbox column. */
export const SELECT_WIDTH = 24;

interface IWidths {
  natural: number;
  compact: number;
  /** Grows to fill the row (the name). */
  flex?: boolean;
}

const WIDTHS: { [key: string]: IWidths } = {
  status: { natural: 86, compact: 72 },
  name: { natural: 140, compact: 76, flex: true },
  start_time: { natural: 118, compact: 64 },
  duration: { natural: 80, compact: 56 }
};
const VALUE_WIDTHS: IWidths = { natural: 96, compact: 64 };
/** Header labels of the compact layout. */
const SHORT_LABELS: { [key: string]: string } = {
  start_time: 'Start',
  duration: 'Dur.'
};
/** The status as a dot. */
export const STATUS_DOT_WIDTH = 22;

/** Attribute columns the layout may leave out, in the order it does. */
const OPTIONAL = ['duration', 'start_time'];

export interface IColumnLayout {
  column: IColumnInfo;
  /** Header text: short in a compact layout (`Start`, `Dur.`). */
  label: string;
  /** px; the flexible column's minimum. */
  width: number;
  flex: boolean;
}

export interface IListLayout {
  /** The columns shown, in order. */
  columns: IColumnLayout[];
  /** Columns left out for lack of room (shown in the row tooltip). */
  hidden: IColumnInfo[];
  /** `grid-template-columns`, the checkbox column first. */
  template: string;
  /** Width the rows need; wider than the list means a sideways scroll. */
  minWidth: number;
  /** Short times and durations. */
  compact: boolean;
  /** The status badge is a dot. */
  statusDot: boolean;
  /**
   * Columns that stay put while the others scroll sideways (the status and
   * the name, when they lead): their `left` offset in px.
   */
  sticky: { [key: string]: number };
}

/** Widths the user set by dragging a header's edge (px, by column key). */
export type ColumnWidths = { [key: string]: number };

function widths(column: IColumnInfo, user: ColumnWidths): IWidths {
  const base = WIDTHS[column.key] ?? VALUE_WIDTHS;
  const set = user[column.key];
  // a width the user chose holds in every step (the name still grows)
  return set > 0 ? { natural: set, compact: set, flex: base.flex } : base;
}

function build(
  columns: IColumnInfo[],
  compact: boolean,
  hide: Set<string>,
  statusDot: boolean,
  user: ColumnWidths,
  wideName = false
): IListLayout {
  const shown: IColumnLayout[] = [];
  const hidden: IColumnInfo[] = [];
  for (const column of columns) {
    if (hide.has(column.key)) {
      hidden.push(column);
      continue;
    }
    const w = widths(column, user);
    const width =
      column.key === 'status' && statusDot
        ? STATUS_DOT_WIDTH
        : compact && !(w.flex && wideName)
          ? w.compact
          : w.natural;
    const label =
      column.key === 'status' && statusDot
        ? ''
        : compact
          ? (SHORT_LABELS[column.key] ?? column.label)
          : column.label;
    shown.push({ column, label, width, flex: !!w.flex });
  }
  const template = [
    `${SELECT_WIDTH}px`,
    ...shown.map(c => (c.flex ? `minmax(${c.width}px, 1fr)` : `${c.width}px`))
  ].join(' ');
  const minWidth = shown.reduce((sum, c) => sum + c.width, SELECT_WIDTH);
  const sticky: { [key: string]: number } = {};
  let left = SELECT_WIDTH;
  for (const c of shown) {
    if (c.column.key !== 'status' && c.column.key !== 'name') {
      break;
    }
    sticky[c.column.key] = left;
    left += c.width;
  }
  return {
    columns: shown,
    hidden,
    template,
    minWidth,
    compact,
    statusDot,
    sticky
  };
}

/**
 * The layout of `columns` in `available` px (the list's inner width). An
 * unknown width (0: not measured yet) gets every column at its natural width.
 */
export function listLayout(
  columns: IColumnInfo[],
  available: number,
  user: ColumnWidths = {}
): IListLayout {
  const natural = build(columns, false, new Set(), false, user);
  if (!(available > 0) || natural.minWidth <= available) {
    return natural;
  }
  const hide = new Set<string>();
  let layout = build(columns, true, hide, false, user);
  for (const key of OPTIONAL) {
    if (layout.minWidth <= available) {
      return layout;
    }
    if (columns.some(c => c.key === key)) {
      hide.add(key);
      layout = build(columns, true, hide, false, user);
    }
  }
  if (layout.minWidth <= available) {
    return layout;
  }
  layout = build(columns, true, hide, true, user);
  if (layout.minWidth <= available) {
    return layout;
  }
  // It scrolls sideways anyway: give the name room to be read.
  return build(columns, true, hide, true, user, true);
}
