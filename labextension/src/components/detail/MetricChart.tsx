import * as React from 'react';

import { IChartOptions } from '../../chart';
import { MLOpsController } from '../../controller';
import { formatNumber } from '../../format';
import { useFetch } from '../hooks';
import { LineChart } from '../LineChart';

/** Points requested per chart: plenty for a ~500px wide SVG. */
export const CHART_MAX_POINTS = 1000;

/** One metric's history chart; refetches when `version` changes. */
export function MetricChart(props: {
  controller: MLOpsController;
  runId: string;
  metricKey: string;
  version: number;
  options?: IChartOptions;
}): JSX.Element {
  const { controller, runId, metricKey, version } = props;
  const { data: history, error } = useFetch(
    signal =>
      controller.client.metricHistory(
        runId,
        metricKey,
        CHART_MAX_POINTS,
        signal
      ),
    // `version` changes when points were logged: fetch again
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [controller, runId, metricKey, version]
  );

  if (error) {
    return (
      <div className="jp-mlops-chart-container jp-mlops-error">
        {metricKey}: {error}
      </div>
    );
  }
  if (!history) {
    return (
      <div className="jp-mlops-chart-container jp-mlops-muted">
        {metricKey}: loading…
      </div>
    );
  }
  const nonfinite = history.nonfinite
    ? Object.keys(history.nonfinite).length
    : 0;
  const notes: string[] = [];
  if (history.total_points > history.values.length) {
    notes.push(`${history.values.length} of ${history.total_points} points`);
  }
  if (nonfinite) {
    notes.push(`${nonfinite} non-finite`);
  }
  const last = [...history.values].reverse().find(v => v !== null);
  return (
    <LineChart
      title={`${metricKey}${last !== undefined && last !== null ? ` = ${formatNumber(last)}` : ''}`}
      note={notes.length ? `(${notes.join(', ')})` : undefined}
      metricKey={metricKey}
      options={props.options}
      series={[
        {
          name: metricKey,
          x: history.steps,
          y: history.values,
          t: history.timestamps
        }
      ]}
    />
  );
}
