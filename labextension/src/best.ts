/**
 * Which value of a metric is "best" across runs (pure): losses, errors and
 * times are better low, everything else (accuracy, F1, AUC...) high.
 */

const LOWER_IS_BETTER = new Set([
  'loss',
  'error',
  'err',
  'errors',
  'mse',
  'rmse',
  'mae',
  'mape',
  'msle',
  'nll',
  'perplexity',
  'ppl',
  'wer',
  'cer',
  'fpr',
  'fnr',
  'latency',
  'time',
  'duration',
  'seconds',
  'cost',
  'regret',
  'distance',
  'divergence',
  'kl'
]);

/** `val_loss`, `train/loss`, `valLoss`, `latency_ms` -> true; `acc`, `f1` -> false. */
export function lowerIsBetter(key: string): boolean {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  return words.some(w => LOWER_IS_BETTER.has(w));
}

/** The best and worst of 2+ distinct finite values (null when there is no contest). */
export function bestValues(
  key: string,
  values: Array<number | null | undefined>
): { best: number | null; worst: number | null } {
  const finite = values.filter(
    (v): v is number => typeof v === 'number' && Number.isFinite(v)
  );
  if (finite.length < 2) {
    return { best: null, worst: null };
  }
  const max = Math.max(...finite);
  const min = Math.min(...finite);
  if (max === min) {
    return { best: null, worst: null };
  }
  return lowerIsBetter(key)
    ? { best: min, worst: max }
    : { best: max, worst: min };
}
