/**
 * jupyter-mlops JupyterLab extension: the "MLOps runs" sidebar, run detail
 * and compare views, commands and settings.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Clipboard,
  Dialog,
  ICommandPalette,
  InputDialog,
  MainAreaWidget,
  Notification,
  showDialog,
  showErrorMessage,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { MLOpsClient } from './api';
import { ICellHint } from './cells';
import { CompareWidget } from './components/Compare';
import { RunDetailWidget } from './components/RunDetail';
import { RunsSidebar } from './components/RunsPanel';
import { SweepWidget } from './components/Sweep';
import { MLOpsController } from './controller';
import { downloadText, runsToCsv } from './csv';
import { mlopsIcon } from './icon';
import { RunsModel } from './model';
import { openNotebookAtCell } from './notebook';
import {
  CommandIDs,
  DEFAULT_SETTINGS,
  IMLOps,
  IMLOpsSettings,
  IRunSummary,
  PLUGIN_ID,
  SIDEBAR_ID
} from './tokens';

export * from './tokens';
export { MLOpsClient } from './api';
export { RunsModel } from './model';

const CATEGORY = 'MLOps';

/** Body of the "Edit note" dialog: a Markdown textarea. */
class NoteEditor extends Widget implements Dialog.IBodyWidget<string> {
  constructor(note: string) {
    super({ node: document.createElement('textarea') });
    const area = this.node as HTMLTextAreaElement;
    area.className = 'jp-mlops-note-editor';
    area.value = note;
    area.rows = 12;
    area.placeholder = 'Markdown: what this run tried, what came out of it…';
  }

  getValue(): string {
    return (this.node as HTMLTextAreaElement).value;
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function compareId(runIds: string[]): string {
  let h = 0;
  for (const ch of runIds.join(',')) {
    h = (h * 31 + ch.charCodeAt(0)) | 0;
  }
  return `jupyter-mlops-compare-${(h >>> 0).toString(36)}`;
}

const plugin: JupyterFrontEndPlugin<IMLOps> = {
  id: PLUGIN_ID,
  description:
    'MLOps runs sidebar: live runs list, run detail, metric charts, compare runs.',
  autoStart: true,
  provides: IMLOps,
  optional: [
    ICommandPalette,
    ISettingRegistry,
    IDocumentManager,
    IEditorLanguageRegistry,
    ILayoutRestorer,
    IRenderMimeRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    docManager: IDocumentManager | null,
    languages: IEditorLanguageRegistry | null,
    restorer: ILayoutRestorer | null,
    rendermime: IRenderMimeRegistry | null
  ): IMLOps => {
    const { commands, shell } = app;
    const client = new MLOpsClient({
      serverSettings: app.serviceManager.serverSettings
    });
    const model = new RunsModel();
    // the sort order survives a reload (this browser's storage, not the settings file)
    const SORT_KEY = 'jupyter-mlops:sort';
    try {
      const saved = JSON.parse(window.localStorage.getItem(SORT_KEY) ?? 'null');
      if (
        saved &&
        typeof saved.key === 'string' &&
        (saved.direction === 'asc' || saved.direction === 'desc')
      ) {
        model.sort = { key: saved.key, direction: saved.direction };
      }
    } catch {
      // no storage (private mode) or a bad value: the default sort
    }
    // so do the column widths and order the user set by dragging headers
    const LAYOUT_KEY = 'jupyter-mlops:column-layout';
    try {
      const saved = JSON.parse(
        window.localStorage.getItem(LAYOUT_KEY) ?? 'null'
      );
      if (saved && typeof saved === 'object') {
        if (Array.isArray(saved.order)) {
          model.columnOrder = saved.order.filter(
            (k: unknown) => typeof k === 'string'
          );
        }
        for (const [key, width] of Object.entries(saved.widths ?? {})) {
          if (typeof width === 'number' && Number.isFinite(width)) {
            model.setColumnWidth(key, width);
          }
        }
      }
    } catch {
      // no storage or a bad value: default widths and order
    }
    model.changed.connect((_, kind) => {
      try {
        if (kind === 'sort') {
          window.localStorage.setItem(SORT_KEY, JSON.stringify(model.sort));
        } else if (kind === 'layout') {
          window.localStorage.setItem(
            LAYOUT_KEY,
            JSON.stringify({
              order: model.columnOrder,
              widths: model.columnWidths
            })
          );
        }
      } catch {
        // storage full or refused: the sort or the layout is not kept
      }
    });
    const controller = new MLOpsController({ client, model });

    let started = false;
    const ensureStarted = () => {
      if (!started) {
        started = true;
        void controller.start();
      }
    };

    // ---------------------------------------------------------- settings
    let settings: ISettingRegistry.ISettings | null = null;
    let settingsLoaded: Promise<void> = Promise.resolve();
    // column lists we wrote and whose `changed` echo has not come back yet:
    // an echo must not undo a later click
    const pendingWrites: string[] = [];
    const saveColumns = (columns: string[]) => {
      if (!settings) {
        return;
      }
      const current = (settings.get('columns').composite as string[]) ?? [];
      const value = JSON.stringify(columns);
      if (JSON.stringify(current) !== value) {
        pendingWrites.push(value);
        void settings.set('columns', columns).catch(reason => {
          const i = pendingWrites.indexOf(value);
          if (i >= 0) {
            pendingWrites.splice(i, 1);
          }
          console.warn('jupyter-mlops: cannot save the columns', reason);
        });
      }
    };
    if (settingRegistry) {
      settingsLoaded = settingRegistry
        .load(PLUGIN_ID)
        .then(s => {
          settings = s;
          const apply = () => {
            const composite = {
              ...DEFAULT_SETTINGS,
              ...(s.composite as unknown as Partial<IMLOpsSettings>)
            };
            const value = JSON.stringify(composite.columns);
            const echo = pendingWrites.indexOf(value);
            if (echo >= 0) {
              // our own write coming back: keep the columns the user has now
              pendingWrites.splice(0, echo + 1);
              // eslint-disable-next-line @typescript-eslint/no-unused-vars
              const { columns: _ignored, ...rest } = composite;
              controller.configure(rest);
            } else {
              controller.configure(composite);
            }
          };
          apply();
          s.changed.connect(apply);
        })
        .catch(reason => {
          console.warn('jupyter-mlops: cannot load settings', reason);
        });
    }

    // ------------------------------------------------------------ views
    const detailTracker = new WidgetTracker<MainAreaWidget<RunDetailWidget>>({
      namespace: 'jupyter-mlops-run'
    });
    const compareTracker = new WidgetTracker<MainAreaWidget<CompareWidget>>({
      namespace: 'jupyter-mlops-compare'
    });
    const sweepTracker = new WidgetTracker<MainAreaWidget<SweepWidget>>({
      namespace: 'jupyter-mlops-sweep'
    });

    /** Sweep views of the selected runs (2+), else of the runs the sidebar's filters match. */
    const openSweep = async (runIds: string[] | null): Promise<void> => {
      ensureStarted();
      const ids = runIds && runIds.length >= 2 ? runIds : null;
      const content = new SweepWidget({
        controller,
        runIds: ids,
        onOpenRun: id => void openRun(id)
      });
      const widget = new MainAreaWidget({ content });
      widget.id = `jupyter-mlops-sweep-${Date.now().toString(36)}`;
      widget.title.label = ids ? `Sweep of ${ids.length} runs` : 'Sweep';
      widget.title.caption = ids
        ? 'Sweep views of the selected runs'
        : 'Sweep views of the runs matching the MLOps sidebar filters';
      widget.title.icon = mlopsIcon;
      widget.title.closable = true;
      widget.addClass('jp-mlops-main');
      await sweepTracker.add(widget);
      shell.add(widget, 'main');
      shell.activateById(widget.id);
    };

    const openNotebook = docManager
      ? (path: string, hint: ICellHint) =>
          openNotebookAtCell(app, docManager, path, hint).then(() => undefined)
      : null;

    const renderMarkdown = rendermime
      ? async (markdown: string, host: HTMLElement): Promise<void> => {
          const renderer = rendermime.createRenderer('text/markdown');
          const mimeModel = rendermime.createModel({
            data: { 'text/markdown': markdown },
            trusted: false // a note is user text: sanitized, no scripts
          });
          await renderer.renderModel(mimeModel);
          host.appendChild(renderer.node);
        }
      : undefined;

    // One detail tab is reused for each run opened, unless the user pins it
    // (then the next run gets a tab of its own). The reused tab's label is in
    // italics, like an editor's preview tab.
    const setPinned = (
      widget: MainAreaWidget<RunDetailWidget>,
      pinned: boolean
    ): void => {
      widget.content.pinned = pinned;
      widget.title.className = pinned
        ? 'jp-mlops-pinned-tab'
        : 'jp-mlops-preview-tab';
      widget.node.dataset.pinned = String(pinned);
    };
    const openRun = async (
      runId: string,
      options: { pinned?: boolean } = {}
    ): Promise<void> => {
      ensureStarted();
      const existing = detailTracker.find(w => w.content.runId === runId);
      if (existing) {
        if (options.pinned) {
          setPinned(existing, true);
        }
        shell.activateById(existing.id);
        return;
      }
      const reusable = options.pinned
        ? undefined
        : detailTracker.find(w => !w.content.pinned && !w.isDisposed);
      const titled = (w: MainAreaWidget<RunDetailWidget>) => {
        w.title.label = model.getRun(runId)?.name || runId.slice(0, 8);
        w.title.caption = runId;
      };
      if (reusable) {
        reusable.content.runId = runId;
        titled(reusable);
        void detailTracker.save(reusable);
        shell.activateById(reusable.id);
        return;
      }
      const content: RunDetailWidget = new RunDetailWidget({
        runId,
        controller,
        languages,
        onOpenNotebook: openNotebook,
        onOpenRun: id => void openRun(id),
        onCommand: (command, args) => void commands.execute(command, args),
        renderMarkdown,
        onTitle: (title, status) => {
          widget.title.label = title;
          widget.title.caption = `${title} (${status.toLowerCase()}) — ${content.runId}`;
        },
        onTogglePin: () => {
          setPinned(widget, !content.pinned);
          void detailTracker.save(widget);
        }
      });
      const widget = new MainAreaWidget({ content });
      widget.id = `jupyter-mlops-run-${++detailCount}-${Date.now().toString(36)}`;
      titled(widget);
      widget.title.icon = mlopsIcon;
      widget.title.closable = true;
      widget.addClass('jp-mlops-main');
      setPinned(widget, !!options.pinned);
      await detailTracker.add(widget);
      shell.add(widget, 'main');
      shell.activateById(widget.id);
    };
    let detailCount = 0;

    const compare = async (runIds: string[]): Promise<void> => {
      ensureStarted();
      const ids = Array.from(new Set(runIds.filter(Boolean)));
      if (ids.length < 2) {
        await showErrorMessage(
          'Compare runs',
          'Select two or more runs in the MLOps runs sidebar (checkboxes) to compare them.'
        );
        return;
      }
      const id = compareId(ids);
      const existing = compareTracker.find(w => w.id === id);
      if (existing) {
        shell.activateById(existing.id);
        return;
      }
      const content = new CompareWidget({
        runIds: ids,
        controller,
        onOpenRun: rid => void openRun(rid)
      });
      const widget = new MainAreaWidget({ content });
      widget.id = id;
      // titled by its runs' names; a restored tab learns them once the runs load
      const setTitle = () => {
        const names = ids.map(
          rid => model.getRun(rid)?.name || rid.slice(0, 8)
        );
        widget.title.label =
          names.length <= 3
            ? names.join(' vs ')
            : `${names.slice(0, 2).join(', ')} +${names.length - 2}`;
        widget.title.caption = `Compare ${ids.length} runs: ${names.join(', ')}`;
      };
      setTitle();
      const onRuns = (_: RunsModel, kind: string) => {
        if (kind === 'runs') {
          setTitle();
        }
      };
      model.changed.connect(onRuns);
      widget.disposed.connect(() => model.changed.disconnect(onRuns));
      widget.title.icon = mlopsIcon;
      widget.title.closable = true;
      widget.addClass('jp-mlops-main');
      await compareTracker.add(widget);
      shell.add(widget, 'main');
      shell.activateById(widget.id);
    };

    // ---------------------------------------------------------- sidebar
    const sidebar = new RunsSidebar({
      controller,
      onOpenRun: runId => void openRun(runId),
      onCompare: runIds => void compare(runIds),
      onColumnsChanged: saveColumns,
      onCommand: (command, args) => void commands.execute(command, args)
    });
    sidebar.id = SIDEBAR_ID;
    sidebar.title.icon = mlopsIcon;
    sidebar.title.caption = 'MLOps runs';
    sidebar.node.setAttribute('aria-label', 'MLOps runs');
    sidebar.onFirstShow = () => {
      void settingsLoaded.then(ensureStarted);
    };
    shell.add(sidebar, 'left', { rank: 650 });
    if (restorer) {
      restorer.add(sidebar, SIDEBAR_ID);
      void restorer.restore(detailTracker, {
        command: CommandIDs.openRun,
        args: w => ({ runId: w.content.runId, pinned: w.content.pinned }),
        name: w => w.content.runId
      });
      void restorer.restore(sweepTracker, {
        command: CommandIDs.openSweep,
        args: w => ({ runIds: w.content.runIds ?? [], restored: true }),
        name: w => w.id
      });
      void restorer.restore(compareTracker, {
        command: CommandIDs.compareSelected,
        args: w => ({ runIds: w.content.runIds }),
        name: w => w.content.runIds.join(',')
      });
    }

    // --------------------------------------------------------- commands
    commands.addCommand(CommandIDs.openSidebar, {
      label: 'Open the MLOps runs sidebar',
      caption: 'Show tracked runs',
      icon: mlopsIcon,
      execute: () => {
        shell.activateById(SIDEBAR_ID);
      }
    });
    commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh MLOps runs',
      execute: async () => {
        if (!started) {
          await settingsLoaded;
          ensureStarted();
          return;
        }
        await controller.reload();
      }
    });
    commands.addCommand(CommandIDs.compareSelected, {
      label: args =>
        args.runIds
          ? 'Compare runs'
          : args.inMenu
            ? `Compare selected (${model.selectedIds.length})`
            : `Compare selected MLOps runs (${model.selectedIds.length})`,
      caption: 'Compare the runs selected in the MLOps runs sidebar',
      isEnabled: args =>
        Array.isArray(args.runIds)
          ? (args.runIds as string[]).length >= 2
          : model.canCompare,
      execute: args =>
        compare(
          Array.isArray(args.runIds)
            ? (args.runIds as string[])
            : model.selectedIds
        )
    });
    commands.addCommand(CommandIDs.openRun, {
      label: args => (args.runId ? `Open run ${args.runId}` : 'Open run'),
      isEnabled: args => !!args.runId || targetRuns(args).length > 0,
      describedBy: {
        args: {
          type: 'object',
          properties: {
            runId: { type: 'string' },
            pinned: {
              type: 'boolean',
              description:
                'Open in a pinned tab of its own (default: the reused detail tab)'
            }
          },
          required: ['runId']
        }
      },
      execute: args => {
        const runId = args.runId ?? targetRuns(args)[0];
        return runId
          ? openRun(String(runId), { pinned: args.pinned === true })
          : undefined;
      }
    });

    // ------------------------------------------------- run management
    /**
     * The runs a command acts on: `runIds`/`runId` arguments; else the row
     * right-clicked (the whole selection when that row is part of it); else
     * the selection.
     */
    const targetRuns = (args: { [key: string]: any }): string[] => {
      if (Array.isArray(args.runIds)) {
        return (args.runIds as unknown[]).filter(
          (id): id is string => typeof id === 'string'
        );
      }
      if (typeof args.runId === 'string') {
        return [args.runId];
      }
      const row = app.contextMenuHitTest(node =>
        node.classList?.contains('jp-mlops-run-row')
      );
      const id = row?.dataset.runId;
      if (id) {
        return model.isSelected(id) && model.selectedIds.length > 1
          ? model.selectedIds
          : [id];
      }
      return model.selectedIds;
    };
    /** Short labels in a row's menu and for explicit runs; long ones in the palette. */
    const short = (args: { [key: string]: any }): boolean =>
      !!(args.inMenu || args.runIds || args.runId);
    const describe = (ids: string[]): string =>
      ids.length === 1
        ? `"${model.getRun(ids[0])?.name || ids[0]}"`
        : plural(ids.length, 'run');
    const failed = (title: string) => (error: unknown) =>
      showErrorMessage(title, String((error as Error)?.message ?? error));

    commands.addCommand(CommandIDs.archiveRuns, {
      label: args => (short(args) ? 'Archive' : 'Archive selected MLOps runs'),
      caption:
        'Archive runs and their child runs: hidden from the list, restorable',
      isVisible: () => !model.showArchived,
      isEnabled: args => targetRuns(args).length > 0,
      execute: async args => {
        const ids = targetRuns(args);
        if (!ids.length) {
          return;
        }
        try {
          const done = await controller.archive(ids);
          Notification.info(
            `Archived ${plural(done.length, 'run')}. "Archived" in the MLOps sidebar lists them; restore from there.`,
            { autoClose: 4000 }
          );
        } catch (error) {
          await failed('Archive runs')(error);
        }
      }
    });
    commands.addCommand(CommandIDs.restoreRuns, {
      label: args => (short(args) ? 'Restore' : 'Restore selected MLOps runs'),
      caption: 'Bring archived runs (and their child runs) back',
      isVisible: () => model.showArchived,
      isEnabled: args => targetRuns(args).length > 0,
      execute: async args => {
        const ids = targetRuns(args);
        try {
          const done = await controller.restore(ids);
          Notification.info(`Restored ${plural(done.length, 'run')}.`, {
            autoClose: 3000
          });
        } catch (error) {
          await failed('Restore runs')(error);
        }
      }
    });
    commands.addCommand(CommandIDs.purgeRuns, {
      label: args =>
        short(args)
          ? 'Delete for good…'
          : 'Delete archived MLOps runs for good…',
      caption:
        'Delete archived runs, their metrics and artifact files (asks first)',
      isVisible: () => model.showArchived,
      isEnabled: args => targetRuns(args).length > 0,
      execute: async args => {
        const ids = targetRuns(args);
        if (!ids.length) {
          return;
        }
        const active = ids.filter(
          id => (model.getRun(id)?.lifecycle_stage ?? 'active') !== 'deleted'
        );
        if (active.length) {
          await showErrorMessage(
            'Delete runs for good',
            `Only archived runs can be deleted for good; ${describe(active)} ${active.length === 1 ? 'is' : 'are'} not archived. Archive first.`
          );
          return;
        }
        const answer = await showDialog({
          title: 'Delete runs for good?',
          body: `${describe(ids)}, their child runs, metrics and artifact files will be deleted. This cannot be undone.`,
          buttons: [
            Dialog.cancelButton(),
            Dialog.warnButton({ label: 'Delete for good' })
          ],
          defaultButton: 0 // Enter cancels: deleting takes a deliberate click
        });
        if (!answer.button.accept) {
          return;
        }
        try {
          const deleted = await controller.purge(ids);
          Notification.info(`Deleted ${plural(deleted.length, 'run')}.`, {
            autoClose: 3000
          });
        } catch (error) {
          await failed('Delete runs for good')(error);
        }
      }
    });
    commands.addCommand(CommandIDs.renameRun, {
      label: args => (short(args) ? 'Rename…' : 'Rename MLOps run…'),
      isEnabled: args => targetRuns(args).length === 1,
      execute: async args => {
        const [id] = targetRuns(args);
        if (!id) {
          return;
        }
        const current = model.getRun(id)?.name ?? '';
        const answer = await InputDialog.getText({
          title: 'Rename run',
          text: current,
          okLabel: 'Rename'
        });
        if (!answer.button.accept || answer.value === null) {
          return;
        }
        const name = answer.value.trim();
        if (!name || name === current) {
          return;
        }
        try {
          await controller.edit(id, { name });
        } catch (error) {
          await failed('Rename run')(error);
        }
      }
    });
    commands.addCommand(CommandIDs.editNote, {
      label: args =>
        short(args) ? 'Edit note…' : 'Edit the note of an MLOps run…',
      isEnabled: args => targetRuns(args).length === 1,
      execute: async args => {
        const [id] = targetRuns(args);
        if (!id) {
          return;
        }
        try {
          const detail = await client.run(id);
          const answer = await showDialog({
            title: `Note on ${detail.name || id}`,
            body: new NoteEditor(detail.note ?? ''),
            buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Save' })]
          });
          if (answer.button.accept && answer.value !== null) {
            await controller.edit(id, { note: answer.value });
          }
        } catch (error) {
          await failed('Edit note')(error);
        }
      }
    });
    commands.addCommand(CommandIDs.copyRunId, {
      label: 'Copy run id',
      isEnabled: args => targetRuns(args).length > 0,
      execute: args => {
        Clipboard.copyToSystem(targetRuns(args).join('\n'));
      }
    });
    commands.addCommand(CommandIDs.exportCsv, {
      label: args =>
        short(args) ? 'Export table as CSV' : 'Export MLOps runs as CSV',
      caption: 'The runs shown in the sidebar, with its columns, as a CSV file',
      execute: () => {
        const stamp = new Date()
          .toISOString()
          .slice(0, 19)
          .replace(/[:T]/g, '-');
        const name = `mlops-runs-${model.experiment ?? 'all'}-${stamp}.csv`;
        downloadText(runsToCsv(model.matchingRuns, model.extraColumns), name);
      }
    });
    commands.addCommand(CommandIDs.openSweep, {
      label:
        'Sweep views of MLOps runs (parallel coordinates, scatter, importance)',
      caption:
        'The selected runs, else the runs matching the sidebar filters: parallel coordinates with brushing, param vs metric, grouped curves, parameter importance',
      execute: args =>
        openSweep(
          Array.isArray(args.runIds)
            ? (args.runIds as string[])
            : model.selectedIds.length >= 2
              ? model.selectedIds
              : null
        )
    });
    commands.addCommand(CommandIDs.toggleArchived, {
      label: 'Show archived MLOps runs',
      isToggled: () => model.showArchived,
      execute: () => {
        model.showArchived = !model.showArchived;
        ensureStarted();
        shell.activateById(SIDEBAR_ID);
      }
    });

    // the right-click menu of a row (commands find the row: targetRuns)
    const rowItems: Array<[string, number]> = [
      [CommandIDs.openRun, 0],
      [CommandIDs.compareSelected, 1],
      [CommandIDs.renameRun, 2],
      [CommandIDs.editNote, 3],
      [CommandIDs.copyRunId, 4],
      [CommandIDs.archiveRuns, 5],
      [CommandIDs.restoreRuns, 5],
      [CommandIDs.purgeRuns, 6],
      [CommandIDs.exportCsv, 7]
    ];
    for (const [command, rank] of rowItems) {
      app.contextMenu.addItem({
        command,
        args: { inMenu: true },
        selector: '.jp-mlops-run-row',
        rank: 10 + rank
      });
    }

    model.changed.connect((_, kind) => {
      if (kind === 'selection') {
        commands.notifyCommandChanged(CommandIDs.compareSelected);
      }
      if (kind === 'filter') {
        commands.notifyCommandChanged(CommandIDs.toggleArchived);
      }
    });

    if (palette) {
      for (const command of [
        CommandIDs.openSidebar,
        CommandIDs.refresh,
        CommandIDs.compareSelected,
        CommandIDs.archiveRuns,
        CommandIDs.restoreRuns,
        CommandIDs.purgeRuns,
        CommandIDs.renameRun,
        CommandIDs.editNote,
        CommandIDs.exportCsv,
        CommandIDs.toggleArchived,
        CommandIDs.openSweep
      ]) {
        palette.addItem({ command, category: CATEGORY });
      }
    }

    class Service implements IMLOps {
      readonly runChanged: Signal<IMLOps, IRunSummary> = new Signal<
        IMLOps,
        IRunSummary
      >(this);
      openRun = openRun;
      compare = compare;
      async refresh(): Promise<void> {
        ensureStarted();
        await controller.reload();
      }
    }
    const service = new Service();
    controller.runChanged.connect((_, run) => service.runChanged.emit(run));
    return service;
  }
};

export default plugin;
