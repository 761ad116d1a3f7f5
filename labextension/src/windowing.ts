/**
 * Fixed-row-height windowing (pure): which rows of a long list to render.
 */
export interface IWindow {
  /** First row to render (inclusive). */
  start: number;
  /** Last row to render (exclusive). */
  end: number;
  /** Height of the whole list in px. */
  totalHeight: number;
}

export function visibleWindow(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  count: number,
  overscan = 8
): IWindow {
  const totalHeight = count * rowHeight;
  if (count <= 0 || rowHeight <= 0) {
    return { start: 0, end: 0, totalHeight: Math.max(0, totalHeight) };
  }
  const top = Math.max(0, scrollTop);
  // before the first layout the viewport height is 0: render a screenful
  const height = viewportHeight > 0 ? viewportHeight : rowHeight * 40;
  const first = Math.min(count - 1, Math.floor(top / rowHeight));
  const last = Math.ceil((top + height) / rowHeight);
  return {
    start: Math.max(0, first - overscan),
    end: Math.min(count, last + overscan),
    totalHeight
  };
}

/** scrollTop that brings row `index` into view (unchanged if visible). */
export function scrollToRow(
  index: number,
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number
): number {
  const top = index * rowHeight;
  const bottom = top + rowHeight;
  if (top < scrollTop) {
    return top;
  }
  if (bottom > scrollTop + viewportHeight) {
    return bottom - viewportHeight;
  }
  return scrollTop;
}
