import * as React from 'react';

import { MLOpsController } from '../../controller';
import { IRunDetail } from '../../tokens';
import { ArtifactItem } from '../ArtifactPreview';
import { Section } from './Section';

/** The run's artifacts, each with a download link and a preview. */
export function ArtifactsSection(props: {
  run: IRunDetail;
  controller: MLOpsController;
}): JSX.Element {
  const { run, controller } = props;
  return (
    <Section
      title="Artifacts"
      count={run.artifacts.length}
      className="jp-mlops-artifacts"
      open={run.artifacts.length > 0}
    >
      {run.artifacts.length === 0 ? (
        <div className="jp-mlops-muted">No artifacts.</div>
      ) : (
        <ul className="jp-mlops-artifact-list">
          {run.artifacts.map(a => (
            <ArtifactItem
              key={a.path}
              client={controller.client}
              runId={run.run_id}
              artifact={a}
            />
          ))}
        </ul>
      )}
    </Section>
  );
}
