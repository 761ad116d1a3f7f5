import * as React from 'react';

/** `RUNNING` / `FINISHED` / `FAILED` / `KILLED` badge. */
export function StatusBadge(props: { status: string }): JSX.Element {
  const status = props.status || 'UNKNOWN';
  return (
    <span
      className={`jp-mlops-status jp-mlops-status-${status}`}
      data-status={status}
      title={status}
    >
      {status === 'RUNNING' && <span className="jp-mlops-status-pulse" />}
      {status.toLowerCase()}
    </span>
  );
}
