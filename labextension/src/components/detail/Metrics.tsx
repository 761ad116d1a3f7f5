import * as React from 'react';

import { MLOpsController } from '../../controller';
import { metricOf } from '../../format';
import { IRunDetail } from '../../tokens';
import { ChartControls, ChartSync, useChartOptions } from '../LineChart';
import { MetricChart } from './MetricChart';
import { KeyValueTable, Section } from './Section';

/** The run's latest metric values and a chart per metric key. */
export function MetricsSection(props: {
  run: IRunDetail;
  controller: MLOpsController;
  metricVersions: { [key: string]: number };
}): JSX.Element {
  const { run, controller, metricVersions } = props;
  const [chartOptions, setChartOptions] = useChartOptions();
  const metricKeys = Array.from(
    new Set([...(run.metric_keys ?? []), ...Object.keys(run.metrics ?? {})])
  ).sort();
  return (
    <Section
      title="Metrics"
      count={metricKeys.length}
      className="jp-mlops-metrics"
    >
      {metricKeys.length === 0 ? (
        <div className="jp-mlops-muted">No metrics logged.</div>
      ) : (
        <>
          <KeyValueTable
            data={Object.fromEntries(
              Object.keys(run.metrics).map(k => [k, metricOf(run, k)])
            )}
            className="jp-mlops-metrics-table"
          />
          <ChartControls options={chartOptions} onChange={setChartOptions} />
          <ChartSync axis={chartOptions.xAxis}>
            <div className="jp-mlops-charts">
              {metricKeys.map(k => (
                <MetricChart
                  key={k}
                  controller={controller}
                  runId={run.run_id}
                  metricKey={k}
                  version={metricVersions[k] ?? 0}
                  options={chartOptions}
                />
              ))}
            </div>
          </ChartSync>
        </>
      )}
    </Section>
  );
}
