import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import * as React from 'react';

import { IGitInfo } from '../../tokens';
import { Source } from '../Source';
import { KeyValueTable, Section } from './Section';

/** The git state the run was captured with, and its uncommitted diff. */
export function GitSection(props: {
  git: IGitInfo;
  languages: IEditorLanguageRegistry | null;
}): JSX.Element {
  const { git } = props;
  return (
    <Section title="Git" className="jp-mlops-git" open={false}>
      <KeyValueTable
        data={{
          commit: git.commit,
          branch: git.branch,
          dirty: git.dirty ? 'yes (uncommitted changes)' : 'no'
        }}
      />
      {git.diff && (
        <details className="jp-mlops-diff">
          <summary>Uncommitted diff</summary>
          <Source code={git.diff} language="diff" languages={props.languages} />
        </details>
      )}
    </Section>
  );
}
