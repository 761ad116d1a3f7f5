/**
 * Artifact previews (pure): what kind of preview a file gets, and the
 * parsing of CSV/TSV text into a table.
 */

export type PreviewKind = 'image' | 'csv' | 'json' | 'text' | 'none';

const IMAGE_TYPES: { [ext: string]: string } = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  bmp: 'image/bmp',
  svg: 'image/svg+xml'
};

const TEXT_EXTENSIONS = new Set([
  'txt',
  'log',
  'md',
  'py',
  'yaml',
  'yml',
  'toml',
  'ini',
  'cfg',
  'conf',
  'sh',
  'sql',
  'xml',
  'html',
  'ipynb',
  'r',
  'jl',
  'out',
  'err',
  'jsonl',
  'ndjson'
]);

/** Largest file previewed as an image (bytes). */
export const MAX_IMAGE_PREVIEW = 20 * 1024 * 1024;
/** Bytes of a text, CSV or JSON file read for its preview. */
export const MAX_TEXT_PREVIEW = 1024 * 1024;
/** Rows of a CSV preview. */
export const MAX_CSV_ROWS = 200;

function extension(path: string): string {
  const name = path.split('/').pop() ?? '';
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

/** The preview an artifact gets, by its name. */
export function previewKind(path: string): PreviewKind {
  const ext = extension(path);
  if (ext in IMAGE_TYPES) {
    return 'image';
  }
  if (ext === 'csv' || ext === 'tsv') {
    return 'csv';
  }
  if (ext === 'json') {
    return 'json';
  }
  if (TEXT_EXTENSIONS.has(ext)) {
    return 'text';
  }
  return 'none';
}

/** The MIME type an image artifact is shown with (the server sends octet-stream). */
export function imageType(path: string): string {
  return IMAGE_TYPES[extension(path)] ?? 'application/octet-stream';
}

/**
 * Rows of CSV text (RFC 4180: quoted fields with `""`, commas and line
 * breaks inside quotes); `delimiter` is `\t` for TSV. Stops after `maxRows`
 * rows (`truncated` says so). A last line cut mid-way (a preview of the
 * file's first bytes) is dropped when `partial`.
 */
export function parseCsv(
  text: string,
  options: { delimiter?: string; maxRows?: number; partial?: boolean } = {}
): { rows: string[][]; truncated: boolean } {
  const delimiter = options.delimiter ?? ',';
  const maxRows = options.maxRows ?? Infinity;
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const n = text.length;
  const endRow = () => {
    row.push(field);
    field = '';
    if (!(row.length === 1 && row[0] === '')) {
      rows.push(row);
    }
    row = [];
  };
  while (i < n) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        field += ch;
      }
      i++;
      continue;
    }
    if (ch === '"' && field === '') {
      quoted = true;
    } else if (ch === delimiter) {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') {
        i++;
      }
      endRow();
      if (rows.length > maxRows) {
        rows.length = maxRows;
        return { rows, truncated: true };
      }
    } else {
      field += ch;
    }
    i++;
  }
  if (!options.partial && (field !== '' || row.length)) {
    endRow();
  }
  if (rows.length > maxRows) {
    rows.length = maxRows;
    return { rows, truncated: true };
  }
  return { rows, truncated: !!options.partial };
}

/** JSON text pretty-printed, or null when it does not parse. */
export function prettyJson(text: string): string | null {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return null;
  }
}
