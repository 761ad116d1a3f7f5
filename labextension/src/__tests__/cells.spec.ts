import { findCellIndex, toContentsPath } from '../cells';

const cells = [
  { id: 'c0', type: 'markdown', source: '# Title', execution_count: null },
  { id: 'c1', type: 'code', source: 'import numpy as np', execution_count: 1 },
  {
    id: 'c2',
    type: 'code',
    source: '%%track train --param lr=0.1\nfor i in range(10):\n    log(i)  ',
    execution_count: 2
  },
  { id: 'c3', type: 'code', source: 'print(1)\nprint(2)\nprint(3)', execution_count: 5 }
];

describe('findCellIndex', () => {
  it('prefers the cell id', () => {
    expect(findCellIndex(cells, { cell_id: 'c3', source: 'import numpy as np' })).toBe(3);
  });

  it('matches the source ignoring trailing spaces and cell magics', () => {
    expect(findCellIndex(cells, { source: 'import numpy as np\n' })).toBe(1);
    expect(findCellIndex(cells, { source: 'for i in range(10):\n    log(i)' })).toBe(2);
    expect(
      findCellIndex(cells, {
        source: '%%track train --param lr=0.1\r\nfor i in range(10):\r\n    log(i)'
      })
    ).toBe(2);
  });

  it('falls back to the execution count, then to containment', () => {
    expect(findCellIndex(cells, { cell_id: 'gone', source: 'edited', execution_count: 5 })).toBe(3);
    expect(findCellIndex(cells, { source: 'print(1)\nprint(2)' })).toBe(3);
    expect(findCellIndex(cells, { source: 'nothing like it', execution_count: 42 })).toBe(-1);
    expect(findCellIndex([], { source: 'x' })).toBe(-1);
  });
});

describe('toContentsPath', () => {
  it('keeps relative paths', () => {
    expect(toContentsPath('notebooks/a.ipynb', '/srv')).toBe('notebooks/a.ipynb');
    expect(toContentsPath('./a.ipynb')).toBe('a.ipynb');
  });

  it('strips an absolute server root', () => {
    expect(toContentsPath('/srv/work/nb/a.ipynb', '/srv/work')).toBe('nb/a.ipynb');
    expect(toContentsPath('/srv/work/nb/a.ipynb', '/srv/work/')).toBe('nb/a.ipynb');
    expect(toContentsPath('/elsewhere/a.ipynb', '/srv/work')).toBe('/elsewhere/a.ipynb');
  });

  it('handles a root given relative to home', () => {
    expect(toContentsPath('/home/ana/proj/a.ipynb', '~')).toBe('proj/a.ipynb');
    expect(toContentsPath('/home/ana/proj/sub/a.ipynb', '~/proj')).toBe('sub/a.ipynb');
    expect(toContentsPath('/root/a.ipynb', '~')).toBe('a.ipynb');
  });
});
