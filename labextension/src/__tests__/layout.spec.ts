import { listLayout, SELECT_WIDTH, STATUS_DOT_WIDTH } from '../layout';
import { BASE_COLUMNS, columnInfo } from '../model';
import { formatShortDuration, formatShortTime } from '../format';

const base = [...BASE_COLUMNS];
const keys = (l: ReturnType<typeof listLayout>) => l.columns.map(c => c.column.key);

describe('listLayout', () => {
  it('keeps every column at its natural width when there is room', () => {
    const layout = listLayout(base, 800);
    expect(keys(layout)).toEqual(['status', 'name', 'start_time', 'duration']);
    expect(layout.hidden).toEqual([]);
    expect(layout.compact).toBe(false);
    expect(layout.statusDot).toBe(false);
    expect(layout.template.startsWith(`${SELECT_WIDTH}px `)).toBe(true);
    expect(layout.template).toContain('minmax(');
  });

  it('treats an unmeasured width as wide', () => {
    expect(keys(listLayout(base, 0))).toEqual(keys(listLayout(base, 1000)));
  });

  it('fits the default sidebar width (250 px) with status, name and start time', () => {
    for (const width of [250, 240, 236]) {
      const layout = listLayout(base, width);
      expect(layout.minWidth).toBeLessThanOrEqual(width);
      expect(keys(layout)).toEqual(['status', 'name', 'start_time']);
      expect(layout.hidden.map(c => c.key)).toEqual(['duration']);
      expect(layout.compact).toBe(true);
      expect(layout.statusDot).toBe(false);
      expect(layout.columns.map(c => c.label)).toEqual(['Status', 'Name', 'Start']);
    }
  });

  it('degrades step by step as the width shrinks, and never below the essentials', () => {
    let previous = Infinity;
    for (let width = 600; width >= 120; width -= 10) {
      const layout = listLayout(base, width);
      expect(layout.columns.length).toBeLessThanOrEqual(previous);
      previous = layout.columns.length;
      expect(keys(layout)).toContain('status');
      expect(keys(layout)).toContain('name');
      if (width >= 200) {
        expect(layout.minWidth).toBeLessThanOrEqual(width);
      }
    }
    const narrowest = listLayout(base, 120);
    expect(narrowest.statusDot).toBe(true);
    expect(narrowest.columns[0].width).toBe(STATUS_DOT_WIDTH);
  });

  it('keeps the columns a user chose, dropping optional ones first', () => {
    const cols = [...base, columnInfo('metrics.acc')];
    const layout = listLayout(cols, 250);
    expect(keys(layout)).toEqual(['status', 'name', 'metrics.acc']);
    expect(layout.minWidth).toBeLessThanOrEqual(250);
    const two = listLayout([...cols, columnInfo('params.lr')], 250);
    expect(keys(two)).toEqual(['status', 'name', 'metrics.acc', 'params.lr']);
    expect(two.statusDot).toBe(true);
    expect(two.minWidth).toBeLessThanOrEqual(250);
    // too many to fit: chosen columns stay, the list scrolls sideways
    const many = listLayout(
      [...cols, ...['a', 'b', 'c', 'd'].map(k => columnInfo(`metrics.${k}`))],
      250
    );
    expect(keys(many)).toHaveLength(7);
    expect(many.minWidth).toBeGreaterThan(250);
    const name = many.columns.find(c => c.column.key === 'name')!;
    expect(name.width).toBe(listLayout(base, 800).columns[1].width);
    // and they come back when the sidebar is widened
    expect(listLayout(cols, 700).hidden).toEqual([]);
  });
});

describe('short formats', () => {
  const now = new Date(2026, 10, 23, 18, 0, 0).getTime();
  it('formats times compactly', () => {
    expect(formatShortTime(new Date(2026, 10, 23, 9, 5, 7).getTime(), now)).toBe('09:05');
    expect(formatShortTime(new Date(2026, 1, 3, 9, 5).getTime(), now)).toBe('Feb 3');
    expect(formatShortTime(new Date(2024, 1, 3).getTime(), now)).toBe('2024-02');
    expect(formatShortTime(null, now)).toBe('');
  });
  it('formats durations compactly', () => {
    expect(formatShortDuration(120)).toBe('120ms');
    expect(formatShortDuration(1234)).toBe('1.2s');
    expect(formatShortDuration(42_000)).toBe('42s');
    expect(formatShortDuration(184_000)).toBe('3m04s');
    expect(formatShortDuration(2 * 3600_000 + 5 * 60_000)).toBe('2h05m');
    expect(formatShortDuration(3 * 86400_000 + 4 * 3600_000)).toBe('3d04h');
    expect(formatShortDuration(null)).toBe('');
  });
});
