import * as React from 'react';

/** Tags with a remove button each, and a key/value form to add one. */
export function TagEditor(props: {
  tags: { [key: string]: string };
  onEdit: (tags: { [key: string]: string | null }) => Promise<void>;
}): JSX.Element {
  const [key, setKey] = React.useState('');
  const [value, setValue] = React.useState('');
  const [busy, setBusy] = React.useState(false);
  const [problem, setProblem] = React.useState<string | null>(null);
  const apply = async (edit: { [key: string]: string | null }) => {
    setBusy(true);
    setProblem(null);
    try {
      await props.onEdit(edit);
      return true;
    } catch (e) {
      setProblem(String((e as Error)?.message ?? e));
      return false;
    } finally {
      setBusy(false);
    }
  };
  const keys = Object.keys(props.tags).sort();
  return (
    <div className="jp-mlops-tag-editor">
      {keys.length === 0 && <div className="jp-mlops-muted">No tags.</div>}
      {keys.length > 0 && (
        <table className="jp-mlops-kv jp-mlops-tags-table">
          <tbody>
            {keys.map(k => (
              <tr key={k} data-key={k}>
                <th title={k}>
                  {!k.startsWith('mlops.') && (
                    <button
                      className="jp-mlops-link-button jp-mlops-tag-remove"
                      title={`Remove tag ${k}`}
                      aria-label={`Remove tag ${k}`}
                      disabled={busy}
                      onClick={() => void apply({ [k]: null })}
                    >
                      ×
                    </button>
                  )}
                  {k}
                </th>
                <td title={props.tags[k]}>{props.tags[k]}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        className="jp-mlops-tag-form"
        onSubmit={ev => {
          ev.preventDefault();
          const k = key.trim();
          if (k) {
            void apply({ [k]: value }).then(ok => {
              if (ok) {
                setKey('');
                setValue('');
              }
            });
          }
        }}
      >
        <input
          className="jp-mlops-input jp-mlops-tag-key"
          placeholder="tag"
          aria-label="New tag key"
          value={key}
          onChange={ev => setKey(ev.target.value)}
        />
        <input
          className="jp-mlops-input jp-mlops-tag-value"
          placeholder="value"
          aria-label="New tag value"
          value={value}
          onChange={ev => setValue(ev.target.value)}
        />
        <button
          type="submit"
          className="jp-mlops-button jp-mlops-tag-add"
          disabled={busy || !key.trim()}
        >
          Set tag
        </button>
      </form>
      {problem && (
        <div className="jp-mlops-error" role="alert">
          {problem}
        </div>
      )}
    </div>
  );
}
