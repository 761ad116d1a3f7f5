import * as React from 'react';

/**
 * `RUNNING` / `FINISHED` / `FAILED` / `KILLED` badge; `dot`: a coloured dot
 * only (narrow lists), the status in its tooltip and accessible name.
 */
export function StatusBadge(props: {
  status: string;
  dot?: boolean;
}): JSX.Element {
  const status = props.status || 'UNKNOWN';
  const label = status.toLowerCase();
  if (props.dot) {
    return (
      <span
        className={`jp-mlops-status jp-mlops-status-dot jp-mlops-status-${status}`}
        data-status={status}
        title={label}
        role="img"
        aria-label={label}
      />
    );
  }
  return (
    <span
      className={`jp-mlops-status jp-mlops-status-${status}`}
      data-status={status}
      title={label}
    >
      {status === 'RUNNING' && <span className="jp-mlops-status-pulse" />}
      {label}
    </span>
  );
}
