/**
 * Compare 2+ runs: overlaid metric charts (one series per run) and a
 * params / metrics diff table.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { bestValues, lowerIsBetter } from '../best';
import { IChartOptions, ISeries, seriesColor } from '../chart';
import { MLOpsController } from '../controller';
import { formatNumber, metricOf } from '../format';
import { IComparison } from '../tokens';
import {
  ChartControls,
  ChartSync,
  LineChart,
  useChartOptions
} from './LineChart';
import { useFetch } from './hooks';
import { StatusBadge } from './StatusBadge';

export interface ICompareProps {
  runIds: string[];
  controller: MLOpsController;
  onOpenRun: (runId: string) => void;
}

/** Points per run and chart. */
export const COMPARE_MAX_POINTS = 1000;
/** Charts drawn before "show more". */
const INITIAL_CHARTS = 12;

/** Run `tasks` with at most `limit` in flight. */
async function pool<T>(
  tasks: Array<() => Promise<T>>,
  limit: number
): Promise<Array<T | null>> {
  const results: Array<T | null> = new Array(tasks.length).fill(null);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      try {
        results[i] = await tasks[i]();
      } catch {
        results[i] = null;
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(limit, tasks.length) }, worker)
  );
  return results;
}

function OverlaidChartView(props: {
  controller: MLOpsController;
  comparison: IComparison;
  metricKey: string;
  options: IChartOptions;
}): JSX.Element {
  const { controller, comparison, metricKey } = props;
  const [series, setSeries] = React.useState<ISeries[] | null>(null);
  React.useEffect(() => {
    let cancelled = false;
    const runs = comparison.runs.filter(
      r => (r.metrics ?? {})[metricKey] !== undefined
    );
    // every run's curve in one request; if that fails (a run gone meanwhile), run by run
    const client = controller.client;
    const ids = runs.map(r => r.run_id);
    void client
      .metricHistories(ids, metricKey, COMPARE_MAX_POINTS)
      .then(
        byRun => ids.map(id => byRun.get(id) ?? null),
        () =>
          pool(
            ids.map(
              id => () =>
                client.metricHistory(id, metricKey, COMPARE_MAX_POINTS)
            ),
            6
          )
      )
      .then(histories => {
        if (cancelled) {
          return;
        }
        const out: ISeries[] = [];
        histories.forEach((h, i) => {
          if (h) {
            const runIndex = comparison.runs.indexOf(runs[i]);
            out.push({
              name: runs[i].name || runs[i].run_id,
              x: h.steps,
              y: h.values,
              t: h.timestamps,
              color: seriesColor(runIndex)
            });
          }
        });
        setSeries(out);
      });
    return () => {
      cancelled = true;
    };
  }, [controller, comparison, metricKey]);
  if (!series) {
    return (
      <div className="jp-mlops-chart-container jp-mlops-muted">
        {metricKey}: loading…
      </div>
    );
  }
  return (
    <LineChart
      title={metricKey}
      metricKey={metricKey}
      series={series}
      options={props.options}
    />
  );
}

/** One metric's chart of every run: memoised (the table's controls leave it be). */
const OverlaidChart = React.memo(OverlaidChartView);

function CompareTableView(props: {
  comparison: IComparison;
  onlyDiff: boolean;
  onOpenRun: (runId: string) => void;
}): JSX.Element {
  const { comparison, onlyDiff } = props;
  const runs = comparison.runs;
  const differing = new Set(comparison.differing_params);
  const paramKeys = Object.keys(comparison.params)
    .filter(k => !onlyDiff || differing.has(k))
    .sort();
  const metricKeys = Object.keys(comparison.metrics).sort();
  const metricDiffers = (k: string) => {
    const vals = runs.map(r => comparison.metrics[k]?.[r.run_id]);
    return new Set(vals.map(v => String(v))).size > 1;
  };
  const shownMetricRows = metricKeys.filter(k => !onlyDiff || metricDiffers(k));
  return (
    <div className="jp-mlops-compare-table-wrap">
      <table className="jp-mlops-compare-table">
        <thead>
          <tr>
            <th />
            {runs.map((r, i) => (
              <th key={r.run_id} data-run-id={r.run_id}>
                <span
                  className="jp-mlops-chart-swatch"
                  style={{ background: seriesColor(i) }}
                />
                <button
                  className="jp-mlops-link-button"
                  onClick={() => props.onOpenRun(r.run_id)}
                  title={r.run_id}
                >
                  {r.name || r.run_id}
                </button>
                <div>
                  <StatusBadge status={r.status} />
                </div>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          <tr className="jp-mlops-compare-group">
            <th colSpan={runs.length + 1}>Parameters</th>
          </tr>
          {paramKeys.map(k => (
            <tr
              key={`p-${k}`}
              data-key={`params.${k}`}
              className={differing.has(k) ? 'jp-mlops-diff' : ''}
            >
              <th scope="row">{k}</th>
              {runs.map(r => {
                const v = comparison.params[k]?.[r.run_id];
                return (
                  <td
                    key={r.run_id}
                    className={v === undefined ? 'jp-mlops-muted' : ''}
                  >
                    {v === undefined ? '—' : v}
                  </td>
                );
              })}
            </tr>
          ))}
          <tr className="jp-mlops-compare-group">
            <th colSpan={runs.length + 1}>Metrics (latest)</th>
          </tr>
          {shownMetricRows.map(k => {
            const vals = runs.map(r => comparison.metrics[k]?.[r.run_id]);
            const { best, worst } = bestValues(k, vals);
            return (
              <tr
                key={`m-${k}`}
                data-key={`metrics.${k}`}
                className={metricDiffers(k) ? 'jp-mlops-diff' : ''}
              >
                <th scope="row">{k}</th>
                {vals.map((v, i) => (
                  <td
                    key={runs[i].run_id}
                    className={
                      v === undefined
                        ? 'jp-mlops-muted'
                        : v === best
                          ? 'jp-mlops-best'
                          : v === worst
                            ? 'jp-mlops-worst'
                            : ''
                    }
                    title={
                      v === best
                        ? `best ${k} (${lowerIsBetter(k) ? 'lowest' : 'highest'})`
                        : undefined
                    }
                  >
                    {v === undefined
                      ? '—'
                      : v === null
                        ? formatNumber(metricOf(runs[i], k)) || 'non-finite'
                        : formatNumber(v)}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/**
 * The params / metrics table, memoised: a chart control (a smoothing step
 * redraws 150 curves) does not re-render its runs x keys cells too.
 */
const CompareTable = React.memo(CompareTableView);

export function CompareView(props: ICompareProps): JSX.Element {
  const { runIds, controller } = props;
  // the ids' text, not the array: an equal list from a re-render refetches nothing
  const idsKey = runIds.join(',');
  const { data: comparison, error } = useFetch(
    signal =>
      controller.client.compare(idsKey ? idsKey.split(',') : [], signal),
    [controller, idsKey]
  );
  const [onlyDiff, setOnlyDiff] = React.useState(false);
  const [showAllCharts, setShowAllCharts] = React.useState(false);
  const [chartOptions, setChartOptions] = useChartOptions();

  if (error) {
    return (
      <div className="jp-mlops-compare jp-mlops-error">
        Cannot compare runs: {error}
      </div>
    );
  }
  if (!comparison) {
    return <div className="jp-mlops-compare jp-mlops-muted">Loading…</div>;
  }

  const runs = comparison.runs;
  const metricKeys = Object.keys(comparison.metrics).sort();
  const charts = showAllCharts
    ? metricKeys
    : metricKeys.slice(0, INITIAL_CHARTS);

  return (
    <div
      className="jp-mlops-compare"
      data-testid="mlops-compare"
      data-run-ids={runs.map(r => r.run_id).join(',')}
    >
      <h2 className="jp-mlops-detail-title">Compare {runs.length} runs</h2>
      <label className="jp-mlops-only-diff">
        <input
          type="checkbox"
          checked={onlyDiff}
          onChange={ev => setOnlyDiff(ev.target.checked)}
        />
        Only differences
      </label>
      <CompareTable
        comparison={comparison}
        onlyDiff={onlyDiff}
        onOpenRun={props.onOpenRun}
      />
      <ChartControls options={chartOptions} onChange={setChartOptions} />
      <ChartSync axis={chartOptions.xAxis}>
        <div className="jp-mlops-charts">
          {charts.map(k => (
            <OverlaidChart
              key={k}
              controller={controller}
              comparison={comparison}
              metricKey={k}
              options={chartOptions}
            />
          ))}
        </div>
      </ChartSync>
      {!showAllCharts && metricKeys.length > INITIAL_CHARTS && (
        <button
          className="jp-mlops-button"
          onClick={() => setShowAllCharts(true)}
        >
          Show all {metricKeys.length} charts
        </button>
      )}
    </div>
  );
}

export class CompareWidget extends ReactWidget {
  constructor(private _props: ICompareProps) {
    super();
    this.addClass('jp-mlops-compare-widget');
  }

  get runIds(): string[] {
    return this._props.runIds;
  }

  render(): JSX.Element {
    return <CompareView {...this._props} />;
  }
}
