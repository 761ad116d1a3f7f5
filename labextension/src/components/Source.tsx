/**
 * Read-only code with JupyterLab's syntax highlighting: the language parser
 * comes from JupyterLab's CodeMirror language registry and tokens get the
 * stable `tok-*` classes of @lezer/highlight, coloured in style/base.css with
 * the theme's `--jp-mirror-editor-*` variables (light and dark themes).
 */
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { classHighlighter, highlightTree } from '@lezer/highlight';
import * as React from 'react';

const latest = new WeakMap<HTMLElement, string>();

export async function highlightInto(
  el: HTMLElement,
  code: string,
  language: string,
  languages: IEditorLanguageRegistry | null
): Promise<void> {
  el.textContent = code;
  let parser: any = null;
  if (languages) {
    try {
      const spec = languages.findBest(language);
      const lang = spec ? await languages.getLanguage(spec) : null;
      parser = (lang?.support as any)?.language?.parser ?? null;
    } catch {
      parser = null;
    }
  }
  if (!parser) {
    el.textContent = code;
    return;
  }
  const frag = document.createDocumentFragment();
  let pos = 0;
  try {
    const tree = parser.parse(code);
    highlightTree(tree, classHighlighter, (from, to, classes) => {
      if (from > pos) {
        frag.appendChild(document.createTextNode(code.slice(pos, from)));
      }
      const span = document.createElement('span');
      span.className = classes;
      span.textContent = code.slice(from, to);
      frag.appendChild(span);
      pos = to;
    });
  } catch {
    el.textContent = code;
    return;
  }
  if (pos < code.length) {
    frag.appendChild(document.createTextNode(code.slice(pos)));
  }
  if (latest.has(el) && latest.get(el) !== code) {
    return; // superseded by a newer render
  }
  el.textContent = '';
  el.appendChild(frag);
}

export interface ISourceProps {
  code: string;
  language?: string;
  languages: IEditorLanguageRegistry | null;
  className?: string;
  /** Show line numbers. */
  lineNumbers?: boolean;
}

/** `<pre class="jp-mlops-source">` with highlighted code. */
export function Source(props: ISourceProps): JSX.Element {
  const { code, languages, lineNumbers } = props;
  const language = props.language ?? 'python';
  const ref = React.useRef<HTMLElement>(null);
  React.useEffect(() => {
    if (ref.current) {
      latest.set(ref.current, code);
      void highlightInto(ref.current, code, language, languages);
    }
  }, [code, language, languages]);
  const lines = lineNumbers ? code.split('\n').length : 0;
  return (
    <div
      className={`jp-mlops-source-block ${props.className ?? ''}`}
      data-testid="mlops-source"
    >
      {lineNumbers && (
        <pre className="jp-mlops-source-gutter" aria-hidden="true">
          {Array.from({ length: lines }, (_, i) => i + 1).join('\n')}
        </pre>
      )}
      <pre className="jp-mlops-source">
        <code ref={ref as any} />
      </pre>
    </div>
  );
}
