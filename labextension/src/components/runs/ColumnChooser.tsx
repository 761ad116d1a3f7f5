import * as React from 'react';

import { RunsModel } from '../../model';

/** The columns menu: which params, metrics and tags are shown. */
export function ColumnChooser(props: {
  model: RunsModel;
  onClose: () => void;
}): JSX.Element {
  const { model } = props;
  const [needle, setNeedle] = React.useState('');
  const available = model.availableColumns;
  const chosen = new Set(model.columns);
  const groups: Array<[string, string[]]> = [
    ['Metrics', available.metrics],
    ['Params', available.params],
    ['Tags', available.tags]
  ];
  const n = needle.toLowerCase();
  return (
    <div className="jp-mlops-column-chooser" data-testid="mlops-column-chooser">
      <div className="jp-mlops-column-chooser-header">
        <input
          className="jp-mlops-input"
          placeholder="Find a column…"
          value={needle}
          autoFocus
          onChange={ev => setNeedle(ev.target.value)}
        />
        <button className="jp-mlops-button" onClick={props.onClose}>
          Done
        </button>
      </div>
      <div className="jp-mlops-column-chooser-body">
        {groups.map(([label, keys]) => {
          const shown = keys.filter(k => !n || k.toLowerCase().includes(n));
          return (
            <fieldset key={label} className="jp-mlops-column-group">
              <legend>{label}</legend>
              {shown.length === 0 && (
                <span className="jp-mlops-muted">none</span>
              )}
              {shown.slice(0, 300).map(key => (
                <label key={key} className="jp-mlops-column-option">
                  <input
                    type="checkbox"
                    data-column={key}
                    checked={chosen.has(key)}
                    onChange={() => model.toggleColumn(key)}
                  />
                  {key.slice(key.indexOf('.') + 1)}
                </label>
              ))}
            </fieldset>
          );
        })}
      </div>
    </div>
  );
}
