import * as React from 'react';

import { formatNumber } from '../../format';

/** A collapsible section of the detail view. */
export function Section(props: {
  title: string;
  count?: number;
  className?: string;
  open?: boolean;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <details
      className={`jp-mlops-section ${props.className ?? ''}`}
      open={props.open ?? true}
    >
      <summary className="jp-mlops-section-title">
        {props.title}
        {props.count !== undefined && (
          <span className="jp-mlops-section-count">{props.count}</span>
        )}
      </summary>
      <div className="jp-mlops-section-body">{props.children}</div>
    </details>
  );
}

/** Above this many keys a key/value table flows into columns. */
const FLOW_KEYS = 8;

/** A sorted key/value table (numbers formatted). */
export function KeyValueTable(props: {
  data: { [k: string]: unknown };
  className?: string;
  empty?: string;
}): JSX.Element {
  const keys = Object.keys(props.data).sort();
  if (!keys.length) {
    return <div className="jp-mlops-muted">{props.empty ?? 'none'}</div>;
  }
  // many keys (a metric per layer...) flow into columns, so the charts stay in reach
  const flow = keys.length > FLOW_KEYS ? ' jp-mlops-kv-flow' : '';
  return (
    <table className={`jp-mlops-kv${flow} ${props.className ?? ''}`}>
      <tbody>
        {keys.map(k => {
          const v = props.data[k];
          return (
            <tr key={k} data-key={k}>
              <th scope="row">{k}</th>
              <td>
                {typeof v === 'number'
                  ? formatNumber(v)
                  : v === null
                    ? '—'
                    : String(v)}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
