import { bestValues, lowerIsBetter } from '../best';

describe('which metric values are best', () => {
  it('knows losses and errors are better low', () => {
    for (const key of [
      'loss',
      'val_loss',
      'train/loss',
      'val loss',
      'error',
      'err_rate',
      'mse',
      'val_rmse',
      'MAE',
      'perplexity',
      'wer',
      'latency_ms',
      'fit_time',
      'cost'
    ]) {
      expect(lowerIsBetter(key)).toBe(true);
    }
    for (const key of [
      'acc',
      'accuracy',
      'val_accuracy',
      'f1',
      'auc',
      'r2',
      'precision',
      'recall',
      'throughput',
      'bleu',
      'glossary_size_x'
    ]) {
      expect(lowerIsBetter(key)).toBe(false);
    }
  });

  it('marks the best and the worst of two or more finite values', () => {
    expect(bestValues('loss', [0.06, 0.75, undefined, null])).toEqual({ best: 0.06, worst: 0.75 });
    expect(bestValues('acc', [0.97, 0.31])).toEqual({ best: 0.97, worst: 0.31 });
    expect(bestValues('acc', [0.5, 0.5])).toEqual({ best: null, worst: null });
    expect(bestValues('acc', [0.5, null])).toEqual({ best: null, worst: null });
  });
});
