import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import * as React from 'react';

import { formatDuration } from '../../format';
import { ICellRecord } from '../../tokens';
import { Source } from '../Source';
import { StatusBadge } from '../StatusBadge';

/** The run's cells in order: duration bars, status, source on demand. */
export function CellTimeline(props: {
  cells: ICellRecord[];
  languages: IEditorLanguageRegistry | null;
  onOpen: ((cell: ICellRecord) => void) | null;
}): JSX.Element {
  const { cells } = props;
  const [open, setOpen] = React.useState<number | null>(null);
  const maxDuration = Math.max(1, ...cells.map(c => c.duration_ms ?? 0));
  return (
    <ol className="jp-mlops-timeline">
      {cells.map(cell => {
        const first = cell.source.split('\n').find(l => l.trim()) ?? '';
        const isOpen = open === cell.position;
        return (
          <li
            key={cell.position}
            className={`jp-mlops-timeline-cell jp-mlops-cell-status-${cell.status}`}
            data-position={cell.position}
            data-execution-count={cell.execution_count ?? ''}
          >
            <div className="jp-mlops-timeline-row">
              <button
                className="jp-mlops-link-button jp-mlops-timeline-toggle"
                aria-expanded={isOpen}
                onClick={() => setOpen(isOpen ? null : cell.position)}
                title="Show the cell source"
              >
                {isOpen ? '▾' : '▸'}
              </button>
              <span className="jp-mlops-exec-count">
                [{cell.execution_count ?? ' '}]
              </span>
              <span className="jp-mlops-timeline-first" title={cell.source}>
                {first}
              </span>
              <span
                className="jp-mlops-timeline-bar-wrap"
                title={formatDuration(cell.duration_ms)}
              >
                <span
                  className="jp-mlops-timeline-bar"
                  style={{
                    width: `${Math.max(2, ((cell.duration_ms ?? 0) / maxDuration) * 100)}%`
                  }}
                />
              </span>
              <span className="jp-mlops-timeline-duration">
                {formatDuration(cell.duration_ms)}
              </span>
              <StatusBadge status={cell.status} />
              {props.onOpen && (
                <button
                  className="jp-mlops-link-button"
                  title="Open the notebook at this cell"
                  onClick={() => props.onOpen!(cell)}
                >
                  open
                </button>
              )}
            </div>
            {isOpen && (
              <Source code={cell.source} languages={props.languages} />
            )}
            {isOpen && cell.error && (
              <pre className="jp-mlops-traceback jp-mlops-cell-error">
                {cell.error}
              </pre>
            )}
          </li>
        );
      })}
    </ol>
  );
}
