import * as React from 'react';

/** The run's Markdown note, rendered by JupyterLab (or as text without a renderer). */
export function Note(props: {
  note: string;
  render?: (markdown: string, host: HTMLElement) => Promise<void>;
}): JSX.Element {
  const host = React.useRef<HTMLDivElement>(null);
  const { note, render } = props;
  React.useEffect(() => {
    const el = host.current;
    if (!el || !render) {
      return;
    }
    el.textContent = '';
    render(note, el).catch(() => {
      el.textContent = note;
    });
  }, [note, render]);
  return (
    <div className="jp-mlops-note" ref={host} data-testid="mlops-note">
      {render ? null : <pre className="jp-mlops-note-text">{note}</pre>}
    </div>
  );
}
