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
  ICommandPalette,
  MainAreaWidget,
  showErrorMessage,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Signal } from '@lumino/signaling';

import { MLOpsClient } from './api';
import { ICellHint } from './cells';
import { CompareWidget } from './components/Compare';
import { RunDetailWidget } from './components/RunDetail';
import { RunsSidebar } from './components/RunsPanel';
import { MLOpsController } from './controller';
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
    ILayoutRestorer
  ],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    docManager: IDocumentManager | null,
    languages: IEditorLanguageRegistry | null,
    restorer: ILayoutRestorer | null
  ): IMLOps => {
    const { commands, shell } = app;
    const client = new MLOpsClient({
      serverSettings: app.serviceManager.serverSettings
    });
    const model = new RunsModel();
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

    const openNotebook = docManager
      ? (path: string, hint: ICellHint) =>
          openNotebookAtCell(app, docManager, path, hint).then(() => undefined)
      : null;

    const openRun = async (runId: string): Promise<void> => {
      ensureStarted();
      const existing = detailTracker.find(w => w.content.runId === runId);
      if (existing) {
        shell.activateById(existing.id);
        return;
      }
      const content = new RunDetailWidget({
        runId,
        controller,
        languages,
        onOpenNotebook: openNotebook,
        onOpenRun: id => void openRun(id),
        onTitle: (title, status) => {
          widget.title.label = title;
          widget.title.caption = `${title} (${status.toLowerCase()}) — ${runId}`;
        }
      });
      const widget = new MainAreaWidget({ content });
      widget.id = `jupyter-mlops-run-${runId.replace(/[^A-Za-z0-9_-]/g, '_')}`;
      widget.title.label = model.getRun(runId)?.name || runId.slice(0, 8);
      widget.title.icon = mlopsIcon;
      widget.title.closable = true;
      widget.addClass('jp-mlops-main');
      await detailTracker.add(widget);
      shell.add(widget, 'main');
      shell.activateById(widget.id);
    };

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
      widget.title.label = `Compare ${ids.length} runs`;
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
      onColumnsChanged: saveColumns
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
        args: w => ({ runId: w.content.runId }),
        name: w => w.content.runId
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
      describedBy: {
        args: {
          type: 'object',
          properties: { runId: { type: 'string' } },
          required: ['runId']
        }
      },
      execute: args => openRun(String(args.runId))
    });
    model.changed.connect((_, kind) => {
      if (kind === 'selection') {
        commands.notifyCommandChanged(CommandIDs.compareSelected);
      }
    });

    if (palette) {
      for (const command of [
        CommandIDs.openSidebar,
        CommandIDs.refresh,
        CommandIDs.compareSelected
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
