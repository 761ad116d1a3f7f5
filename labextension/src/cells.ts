/**
 * Locating a run's cell in a notebook, and mapping the notebook path the
 * kernel recorded to a path of the Jupyter contents API (pure logic).
 */

/** What we know about the cell a run came from. */
export interface ICellHint {
  cell_id?: string | null;
  source?: string | null;
  execution_count?: number | null;
}

/** The little we need of a notebook cell. */
export interface ICellLike {
  id?: string | null;
  type?: string;
  source: string;
  execution_count?: number | null;
}

function normalize(source: string): string {
  return source
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map(line => line.replace(/\s+$/, ''))
    .join('\n')
    .trim();
}

/** The cell body without leading cell magics (`%%track ...`). */
function withoutCellMagics(source: string): string {
  const lines = normalize(source).split('\n');
  while (lines.length && lines[0].startsWith('%%')) {
    lines.shift();
  }
  return lines.join('\n').trim();
}

/**
 * Index of the cell a run was recorded from, or -1. Tries, in order: the
 * nbformat cell id; the exact source (ignoring trailing spaces and cell
 * magics like `%%track`); the execution count; a cell containing the source.
 */
export function findCellIndex(cells: ICellLike[], hint: ICellHint): number {
  if (hint.cell_id) {
    const i = cells.findIndex(c => c.id === hint.cell_id);
    if (i >= 0) {
      return i;
    }
  }
  const src = hint.source ? normalize(hint.source) : '';
  if (src) {
    const bare = withoutCellMagics(src);
    let i = cells.findIndex(c => normalize(c.source) === src);
    if (i >= 0) {
      return i;
    }
    if (bare) {
      i = cells.findIndex(c => withoutCellMagics(c.source) === bare);
      if (i >= 0) {
        return i;
      }
    }
  }
  if (hint.execution_count !== null && hint.execution_count !== undefined) {
    const i = cells.findIndex(
      c =>
        (c.type === undefined || c.type === 'code') &&
        c.execution_count === hint.execution_count
    );
    if (i >= 0) {
      return i;
    }
  }
  if (src) {
    const bare = withoutCellMagics(src);
    if (bare.length >= 8) {
      const i = cells.findIndex(c => normalize(c.source).includes(bare));
      if (i >= 0) {
        return i;
      }
    }
  }
  return -1;
}

/**
 * Map a notebook path as recorded by the kernel (often absolute) to a path
 * relative to the Jupyter server root, as the contents API wants it.
 * `serverRoot` is PageConfig's `serverRoot` (may start with `~`).
 */
export function toContentsPath(path: string, serverRoot = ''): string {
  let p = path.replace(/\\/g, '/');
  const isAbsolute = p.startsWith('/') || /^[A-Za-z]:\//.test(p);
  if (!isAbsolute) {
    return p.replace(/^\.\//, '');
  }
  let root = serverRoot.replace(/\\/g, '/').replace(/\/+$/, '');
  if (root && !root.startsWith('~')) {
    if (p === root) {
      return '';
    }
    if (p.startsWith(root + '/')) {
      return p.slice(root.length + 1);
    }
    return p; // outside the root: let the contents API answer
  }
  // `~` or `~/sub`: strip a home directory prefix, then the sub path
  const home =
    /^(\/home\/[^/]+|\/Users\/[^/]+|\/root|[A-Za-z]:\/Users\/[^/]+)(\/|$)/.exec(
      p
    );
  if (!home) {
    return p;
  }
  p = p.slice(home[1].length).replace(/^\//, '');
  root = root.replace(/^~\/?/, '');
  if (!root) {
    return p;
  }
  if (p === root) {
    return '';
  }
  if (p.startsWith(root + '/')) {
    return p.slice(root.length + 1);
  }
  return path;
}
