/**
 * "Open notebook at this cell": open the run's notebook with the document
 * manager, then activate and scroll to the cell the run was recorded from.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { PageConfig } from '@jupyterlab/coreutils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { Notebook, NotebookPanel } from '@jupyterlab/notebook';

import { findCellIndex, ICellHint, ICellLike, toContentsPath } from './cells';

export class CellNotFoundError extends Error {}

export async function openNotebookAtCell(
  app: JupyterFrontEnd,
  docManager: IDocumentManager,
  notebookPath: string,
  hint: ICellHint
): Promise<{ path: string; index: number }> {
  const path = toContentsPath(
    notebookPath,
    PageConfig.getOption('serverRoot') || ''
  );
  try {
    await docManager.services.contents.get(path, { content: false });
  } catch {
    throw new Error(
      `Notebook not found: ${path || notebookPath} (recorded as ${notebookPath})`
    );
  }
  const widget = docManager.openOrReveal(path);
  if (!widget) {
    throw new Error(`Cannot open ${path}`);
  }
  await widget.context.ready;
  await widget.revealed;
  app.shell.activateById(widget.id);

  const notebook = (widget as NotebookPanel).content;
  if (!(notebook instanceof Notebook) || !notebook.model) {
    return { path, index: -1 };
  }
  const cells: ICellLike[] = [];
  const list = notebook.model.cells;
  for (let i = 0; i < list.length; i++) {
    const cell = list.get(i);
    cells.push({
      id: cell.id,
      type: cell.type,
      source: cell.sharedModel.getSource(),
      execution_count:
        cell.type === 'code' ? ((cell as any).executionCount ?? null) : null
    });
  }
  const index = findCellIndex(cells, hint);
  if (index < 0) {
    throw new CellNotFoundError(
      `Opened ${path}, but no cell matches the run's source any more.`
    );
  }
  notebook.activeCellIndex = index;
  notebook.mode = 'command';
  const cellWidget = notebook.widgets[index];
  if (cellWidget) {
    await notebook.scrollToCell(cellWidget, 'center');
    cellWidget.node.classList.add('jp-mlops-highlight-cell');
    setTimeout(
      () => cellWidget.node.classList.remove('jp-mlops-highlight-cell'),
      2500
    );
  }
  notebook.node.focus();
  return { path, index };
}
