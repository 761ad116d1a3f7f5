import * as React from 'react';

import { MLOpsController } from '../../controller';
import { CommandIDs, IRunDetail } from '../../tokens';
import { StatusBadge } from '../StatusBadge';
import { Section } from './Section';

/** The run's child runs (folds, steps), with a compare button. */
export function ChildrenSection(props: {
  run: IRunDetail;
  controller: MLOpsController;
  onCommand?: (command: string, args: { [key: string]: any }) => void;
  onOpenRun: (runId: string) => void;
}): JSX.Element {
  const { run, controller } = props;
  return (
    <Section
      title="Child runs"
      count={run.children.length}
      className="jp-mlops-children"
    >
      {run.children.length >= 2 && props.onCommand && (
        <button
          className="jp-mlops-button jp-mlops-compare-children"
          title="Compare the child runs (folds, steps) side by side"
          onClick={() =>
            props.onCommand?.(CommandIDs.compareSelected, {
              runIds: run.children.slice(0, 100)
            })
          }
        >
          Compare children ({Math.min(run.children.length, 100)})
        </button>
      )}
      <ul className="jp-mlops-children-list">
        {run.children.map(id => {
          const child = controller.model.getRun(id);
          return (
            <li key={id}>
              <button
                className="jp-mlops-link-button"
                onClick={() => props.onOpenRun(id)}
              >
                {child?.name || id}
              </button>{' '}
              {child && <StatusBadge status={child.status} />}
            </li>
          );
        })}
      </ul>
    </Section>
  );
}
