/**
 * An artifact in the run detail: its download link, and a preview on demand:
 * images inline, CSV/TSV as a table, JSON pretty-printed, text as text.
 */
import * as React from 'react';

import { MLOpsClient } from '../api';
import {
  imageType,
  MAX_CSV_ROWS,
  MAX_IMAGE_PREVIEW,
  MAX_TEXT_PREVIEW,
  parseCsv,
  prettyJson,
  previewKind
} from '../artifacts';
import { formatBytes } from '../format';
import { IArtifact } from '../tokens';
import { useFetch } from './hooks';

type Loaded =
  | { kind: 'image'; url: string }
  | { kind: 'csv'; rows: string[][]; truncated: boolean }
  | { kind: 'json' | 'text'; text: string; truncated: boolean };

function Preview(props: {
  client: MLOpsClient;
  runId: string;
  artifact: IArtifact;
}): JSX.Element {
  const { client, runId, artifact } = props;
  const kind = previewKind(artifact.path);
  const { data: loaded, error } = useFetch(
    async (signal: AbortSignal): Promise<Loaded> => {
      if (kind === 'image' && (artifact.size ?? 0) > MAX_IMAGE_PREVIEW) {
        throw new Error(`too large to preview (${formatBytes(artifact.size)})`);
      }
      const blob = await client.artifactBlob(runId, artifact.path, signal);
      if (kind === 'image') {
        const url = URL.createObjectURL(
          new Blob([blob], { type: imageType(artifact.path) })
        );
        return { kind: 'image', url } as Loaded;
      }
      const cut = blob.size > MAX_TEXT_PREVIEW;
      const text = await blob.slice(0, MAX_TEXT_PREVIEW).text();
      if (kind === 'csv') {
        const tsv = artifact.path.toLowerCase().endsWith('.tsv');
        const { rows, truncated } = parseCsv(text, {
          delimiter: tsv ? '\t' : ',',
          maxRows: MAX_CSV_ROWS + 1,
          partial: cut
        });
        return { kind: 'csv', rows, truncated } as Loaded;
      }
      if (kind === 'json' && !cut) {
        const pretty = prettyJson(text);
        if (pretty !== null) {
          return { kind: 'json', text: pretty, truncated: false } as Loaded;
        }
      }
      return { kind: 'text', text, truncated: cut } as Loaded;
    },
    [client, runId, artifact.path, artifact.size, kind],
    // the image's object URL is freed with it
    l => {
      if (l.kind === 'image') {
        URL.revokeObjectURL(l.url);
      }
    }
  );

  if (error) {
    return (
      <div className="jp-mlops-artifact-preview jp-mlops-error">
        Cannot preview: {error}
      </div>
    );
  }
  if (!loaded) {
    return (
      <div className="jp-mlops-artifact-preview jp-mlops-muted">
        Loading preview…
      </div>
    );
  }
  switch (loaded.kind) {
    case 'image':
      return (
        <div className="jp-mlops-artifact-preview" data-kind="image">
          <img
            src={loaded.url}
            alt={artifact.path}
            className="jp-mlops-artifact-image"
          />
        </div>
      );
    case 'csv': {
      const [header, ...body] = loaded.rows;
      const shown = body.slice(0, MAX_CSV_ROWS);
      return (
        <div
          className="jp-mlops-artifact-preview"
          data-kind="csv"
          data-rows={shown.length}
        >
          <div className="jp-mlops-artifact-table-wrap">
            <table className="jp-mlops-table jp-mlops-artifact-table">
              {header && (
                <thead>
                  <tr>
                    {header.map((h, i) => (
                      <th key={i}>{h}</th>
                    ))}
                  </tr>
                </thead>
              )}
              <tbody>
                {shown.map((row, r) => (
                  <tr key={r}>
                    {row.map((cell, c) => (
                      <td
                        key={c}
                        className={
                          cell !== '' && Number.isFinite(Number(cell))
                            ? 'jp-mlops-artifact-number'
                            : undefined
                        }
                      >
                        {cell}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {(loaded.truncated || body.length > MAX_CSV_ROWS) && (
            <div className="jp-mlops-muted">
              First {shown.length} rows; download the file for all of them.
            </div>
          )}
        </div>
      );
    }
    default:
      return (
        <div className="jp-mlops-artifact-preview" data-kind={loaded.kind}>
          <pre className="jp-mlops-pre jp-mlops-artifact-text">
            {loaded.text}
          </pre>
          {loaded.truncated && (
            <div className="jp-mlops-muted">
              The first {formatBytes(MAX_TEXT_PREVIEW)}; download the file for
              all of it.
            </div>
          )}
        </div>
      );
  }
}

/** One artifact: link, size, and a preview toggle when its kind has one. */
export function ArtifactItem(props: {
  client: MLOpsClient;
  runId: string;
  artifact: IArtifact;
}): JSX.Element {
  const { client, runId, artifact } = props;
  const kind = previewKind(artifact.path);
  // images open by default: they are what one looks for
  const [open, setOpen] = React.useState(kind === 'image');
  return (
    <li
      className="jp-mlops-artifact"
      data-path={artifact.path}
      data-kind={kind}
    >
      <a
        className="jp-mlops-artifact-link"
        href={client.artifactUrl(runId, artifact.path)}
        download={artifact.path.split('/').pop()}
        target="_blank"
        rel="noopener noreferrer"
        title={`Download ${artifact.path}`}
      >
        {artifact.path}
      </a>{' '}
      <span className="jp-mlops-muted">{formatBytes(artifact.size)}</span>
      {kind !== 'none' && (
        <button
          className="jp-mlops-link-button jp-mlops-artifact-preview-toggle"
          aria-expanded={open}
          onClick={() => setOpen(!open)}
        >
          {open ? 'hide' : 'preview'}
        </button>
      )}
      {open && <Preview client={client} runId={runId} artifact={artifact} />}
    </li>
  );
}
