"""Run a pipeline: schedule its steps on an executor, use the cache, track everything.

The pipeline run is a parent run (kind ``pipeline``); each step is a child run (kind
``pipeline-step``) with the tag ``pipeline.status``: ran, cached (``pipeline.cached_from``
names the run that made the result), failed, or skipped (an upstream step failed). A step
that ran keeps its executed notebook as the artifact ``executed.ipynb`` and its stdout tail;
``mlops.log_metric`` in the step's code lands in its run. The variables of the
``pipeline-metrics`` cell become metrics of the pipeline run.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import MissingInputsError, MLOpsError, PipelineError
from ..tracking import fluent
from ..tracking.capture import git_info
from ..wire import dumps, encode_metrics
from . import graph, handover
from . import parameters as params_module
from .cache import StepCache, default_cache_dir, local_module_files, step_key
from .executors import Executor, StepResult, StepTask, make_executor
from .names import analyze

KERNEL_MODULE_NAME = "_jupyter_mlops_step"  # pipeline/kernel.py, as loaded in step kernels
EXECUTED_ARTIFACT = "executed.ipynb"  # the name `jupyter mlops run` gives it too
GENERATED_TAG = "mlops-generated"
STATUS_TAG = "pipeline.status"

Progress = Callable[[str, "StepSummary", "PipelineSummary"], None]


@dataclass
class StepSummary:
    name: str
    status: str = "pending"  # ran, cached, failed, skipped (pending/running while it runs)
    run_id: str | None = None
    duration: float | None = None  # seconds
    cached_from: str | None = None
    error: str | None = None
    traceback: str | None = None
    notebook: str | None = None  # where the executed notebook was stored
    key: str | None = None
    kernel_reused: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "traceback"}


@dataclass
class PipelineSummary:
    name: str
    path: str
    run_id: str | None = None
    status: str = "RUNNING"
    steps: list[StepSummary] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    duration: float | None = None
    executor: str = "local"
    jobs: int = 1
    kernels_started: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "FINISHED"

    @property
    def failed(self) -> list[StepSummary]:
        return [s for s in self.steps if s.status == "failed"]

    def step(self, name: str) -> StepSummary:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for step in self.steps:
            counts[step.status] = counts.get(step.status, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.name,
            "path": self.path,
            "run_id": self.run_id,
            "status": self.status,
            "duration": self.duration,
            "executor": self.executor,
            "jobs": self.jobs,
            "kernels_started": self.kernels_started,
            **encode_metrics({}, self.metrics),  # NaN/inf by the wire convention
            "steps": [s.to_dict() for s in self.steps],
        }

    def to_json(self) -> str:
        return dumps(self.to_dict())


def run(
    path: str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    *,
    jobs: int | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    only: str | None = None,
    from_step: str | None = None,
    no_cache: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    experiment: str | None = None,
    warm_kernels: bool = True,
    timeout: int | None = None,
    params_as_text: bool = False,
    progress: Progress | None = None,
) -> PipelineSummary:
    """Run the pipeline of a tagged notebook (or pipeline YAML); returns its summary.

    Bad input (tags, cycles, unknown steps or parameters, an unreachable scheduler) raises a
    ``PipelineError`` before anything runs. A failed step does not raise: the summary's
    ``status`` is FAILED and the step says why (``summary.failed``).
    """
    if jobs is not None and (not isinstance(jobs, int) or jobs < 1):
        raise PipelineError(f"jobs must be a positive integer, got {jobs!r}.")
    if only and from_step:
        raise PipelineError("Give --only or --from, not both.")
    pipeline = graph.load(str(path))
    overrides = params_module.resolve(
        pipeline.parameters, dict(params or {}), from_text=params_as_text
    )
    values = {
        name: p.default for name, p in pipeline.parameters.items() if p.typed or p.default is None
    }
    values.update(overrides)
    if only:
        pipeline.require(only)
        selected = [only]
    elif from_step:
        pipeline.require(from_step)
        selected = pipeline.downstream(from_step)
    else:
        selected = list(pipeline.order)
    needed = set(selected)
    for name in selected:
        needed |= pipeline.ancestors(name)
    store = fluent.get_store()
    cache = StepCache(cache_dir or default_cache_dir(store.artifacts.root_url))
    runner = _Runner(pipeline, values, overrides, cache, no_cache=no_cache, timeout=timeout)
    reused = runner.resolve_from_cache([n for n in pipeline.order if n in needed - set(selected)])
    if any(not runner.cached_meta.get(n) for n in selected) or not selected:
        _check_kernel(pipeline.spec.kernel_name)
    engine = make_executor(
        executor, jobs=jobs, scheduler=scheduler, warm=warm_kernels, cwd=pipeline.spec.cwd
    )
    summary = PipelineSummary(
        pipeline.name, pipeline.spec.path, executor=executor, jobs=engine.slots
    )
    try:
        result = runner.run(
            engine, summary, selected, reused, experiment=experiment, progress=progress
        )
    except BaseException:  # Ctrl-C, or a bug: stop the kernels now rather than wait for them
        engine.close(cancel=True)
        summary.kernels_started = engine.kernels_started
        raise
    engine.close()
    summary.kernels_started = engine.kernels_started
    return result


def _check_kernel(name: str | None) -> None:
    """The steps' kernel must exist. Looked up in the kernel folders first: jupyter_client's
    KernelSpecManager imports IPython (0.8 s), which a cached rerun must not pay."""
    import importlib.util

    from jupyter_core.paths import jupyter_path

    name = name or "python3"
    if name == "python3" and importlib.util.find_spec("ipykernel") is not None:
        return
    if any(os.path.isfile(os.path.join(d, name, "kernel.json")) for d in jupyter_path("kernels")):
        return
    from jupyter_client.kernelspec import KernelSpecManager

    installed = sorted(KernelSpecManager().find_kernel_specs())
    if name not in installed:
        raise PipelineError(
            f"No kernel named {name!r} for the pipeline's steps "
            f"(installed: {', '.join(installed) or 'none'})."
        )


class _Runner:
    def __init__(
        self,
        pipeline: graph.Pipeline,
        values: dict[str, Any],
        overrides: dict[str, Any],
        cache: StepCache,
        *,
        no_cache: bool,
        timeout: int | None,
    ) -> None:
        self.pipeline = pipeline
        self.values = values
        self.overrides = overrides
        self.cache = cache
        self.no_cache = no_cache
        self.timeout = timeout
        self.experiment: str | None = None
        self.cached_meta: dict[str, dict[str, Any] | None] = {}
        self.output_dirs: dict[str, str] = {}  # step -> folder of its outputs
        self.manifests: dict[str, dict[str, Any]] = {}
        self._untyped = any(not p.typed for p in pipeline.parameters.values())
        self._modules: dict[str, list[Path]] = {}
        self.prelude = analyze(pipeline.prelude)

    # cache keys ---------------------------------------------------------------------------
    def key(self, name: str) -> str:
        node = self.pipeline.steps[name]
        spec = self.pipeline.spec
        inputs = {}
        for var, producer in node.inputs.items():
            entry = self.manifests[producer]["outputs"].get(var, {})
            inputs[var] = entry.get("hash", "")
        # A parameter computed from others (not a literal): any of them may matter.
        used = self.values if self._untyped else {p: self.values.get(p) for p in node.parameters}
        # The imports cell runs in every step, but a step depends on the modules whose names
        # it uses: an edit of helpers.py reruns the steps that call helpers, not all of them.
        imported = set(node.names.imports)
        names = set(node.names.reads)
        for call in node.names.calls & set(self.prelude.functions):
            names |= self.prelude.functions[call]  # a functions-cell function it calls
        for used_name in names:
            imported |= self.prelude.bindings.get(used_name, set())
        modules = local_module_files(imported, [spec.cwd])
        return step_key(
            step=name,
            code=node.spec.source,
            prelude=self.pipeline.prelude
            + ("\n" + "\n".join(c.source for c in spec.parameters) if self._untyped else ""),
            parameters=used,
            inputs=inputs,
            outputs=node.outputs,
            kernel=spec.kernel_name,
            module_files=modules,
            root=spec.cwd,
        )

    def resolve_from_cache(self, names: list[str]) -> dict[str, dict[str, Any]]:
        """Steps that are not to run but whose outputs are needed: from the cache, or an error
        before anything runs."""
        found = {}
        for name in names:
            key = self.key(name)
            meta = self.cache.lookup(key)
            if meta is None:
                raise MissingInputsError(
                    f"Step {name!r} has no cached result for the current code and parameters, "
                    "and the steps to run need its outputs. Run the pipeline without "
                    "--only/--from first (or include that step)."
                )
            meta["key"] = key
            self._use(name, meta)
            found[name] = meta
        return found

    def _use(self, name: str, meta: dict[str, Any]) -> None:
        self.cached_meta[name] = meta
        self.output_dirs[name] = meta["folder"]
        self.manifests[name] = meta["manifest"]

    # the run --------------------------------------------------------------------------------
    def run(
        self,
        engine: Executor,
        summary: PipelineSummary,
        selected: list[str],
        reused: dict[str, dict[str, Any]],
        *,
        experiment: str | None,
        progress: Progress | None,
    ) -> PipelineSummary:
        pipeline = self.pipeline
        started = time.time()
        first = self._first_wave(selected, reused)
        if first:  # boot the kernels the first steps need while the runs are being recorded
            engine.prepare(pipeline.spec.kernel_name, first)
        self.experiment = experiment or pipeline.spec.experiment or fluent.current_experiment()
        parent = fluent.start_run(
            pipeline.name,
            experiment=self.experiment,
            params=self.values,
            tags={
                "pipeline.path": pipeline.spec.path,
                "pipeline.steps": ",".join(pipeline.order),
                "pipeline.executor": engine.name,
                **({"pipeline.only": selected[0]} if len(selected) == 1 else {}),
            },
            kind="pipeline",
            notebook_path=pipeline.spec.path,
            live=False,
            # The steps' kernels are where the code runs; this process's package scan costs
            # 0.35 s, which a cached rerun must not pay. The commit is recorded.
            capture=False,
        )
        git = git_info(pipeline.spec.cwd)
        if git:
            parent.update(git=json.dumps(git))
        summary.run_id = parent.run_id
        parent.log_artifact_bytes("pipeline.json", pipeline.to_json().encode())
        steps = {
            name: StepSummary(name) for name in pipeline.order if name in selected or name in reused
        }
        summary.steps = list(steps.values())

        def emit(event: str, step: StepSummary) -> None:
            if progress is not None:
                progress(event, step, summary)

        for name, meta in reused.items():
            self._record_cached(parent, steps[name], meta)
            emit("cached", steps[name])
        waiting = [n for n in pipeline.order if n in selected]
        running: dict[concurrent.futures.Future[StepResult], tuple[str, Any, Path]] = {}
        interrupted: BaseException | None = None
        try:
            while waiting or running:
                progressed = True
                while progressed:
                    progressed = False
                    for name in list(waiting):
                        node = pipeline.steps[name]
                        ups = [steps[u] for u in node.upstream]
                        if any(u.status in ("failed", "skipped") for u in ups):
                            waiting.remove(name)
                            bad = next(u for u in ups if u.status in ("failed", "skipped"))
                            self._record_skipped(parent, steps[name], bad.name)
                            emit("skipped", steps[name])
                            progressed = True
                        elif all(u.status in ("ran", "cached") for u in ups):
                            waiting.remove(name)
                            progressed = True
                            self._start(name, steps[name], parent, engine, running, selected, emit)
                if running:
                    done, _ = concurrent.futures.wait(
                        list(running), return_when=concurrent.futures.FIRST_COMPLETED
                    )
                    for future in done:
                        name, run, staging = running.pop(future)
                        self._finish(name, steps[name], run, staging, future.result())
                        emit(steps[name].status, steps[name])
        except BaseException as exc:  # Ctrl-C: end what was started as KILLED
            interrupted = exc
            for future, (name, run, staging) in running.items():
                future.cancel()
                steps[name].status = "failed"
                steps[name].error = "interrupted"
                run.end("KILLED", error="interrupted")
                self.cache.discard(staging)
            parent.end("KILLED", error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            summary.duration = time.time() - started
            if interrupted is None:
                self._pipeline_metrics(parent, summary, steps)
                failed = summary.failed
                if failed:
                    parent.set_tag(STATUS_TAG, "failed")
                    parent.end(
                        "FAILED",
                        error="; ".join(f"step {s.name} failed: {s.error}" for s in failed),
                    )
                    summary.status = "FAILED"
                else:
                    parent.set_tag(STATUS_TAG, "finished")
                    parent.end("FINISHED")
                    summary.status = "FINISHED"
                fluent.flush()
        return summary

    def _first_wave(self, selected: list[str], reused: dict[str, dict[str, Any]]) -> int:
        """How many of the steps that can start at once will need a kernel."""
        count = 0
        forced = len(selected) < len(self.pipeline.order)
        for name in selected:
            node = self.pipeline.steps[name]
            if any(up not in reused for up in node.upstream):
                continue
            if (
                self.no_cache
                or node.spec.nocache
                or forced
                or not self.cache.lookup(self.key(name))
            ):
                count += 1
        return count

    def _start(
        self,
        name: str,
        step: StepSummary,
        parent: Any,
        engine: Executor,
        running: dict[concurrent.futures.Future[StepResult], tuple[str, Any, Path]],
        selected: list[str],
        emit: Callable[[str, StepSummary], None],
    ) -> None:
        node = self.pipeline.steps[name]
        key = self.key(name)
        step.key = key
        forced = len(selected) < len(self.pipeline.order) and name in selected
        if not (self.no_cache or node.spec.nocache or forced):
            meta = self.cache.lookup(key)
            if meta is not None:
                meta["key"] = key
                self._record_cached(parent, step, meta)
                emit("cached", step)
                return
        run = fluent.start_run(
            name,
            parent=parent.run_id,
            experiment=self.experiment,
            params={p: self.values[p] for p in node.parameters if p in self.values},
            tags={"pipeline.step": name, "pipeline.key": key, **_metadata_tags(node)},
            kind="pipeline-step",
            live=False,
            capture=False,
            notebook_path=self.pipeline.spec.path,
        )
        step.run_id = run.run_id
        step.status = "running"
        staging = self.cache.staging(key)
        attach = _uses_tracking(node.spec.source + self.pipeline.prelude)
        if attach:
            fluent.flush()  # the kernel reads the step's run back to log into it
        task = StepTask(
            step=name,
            notebook=self._notebook(name, run.run_id, staging, attach, parent),
            output_path=str(staging / EXECUTED_ARTIFACT),
            parameters={k: v for k, v in self.overrides.items()},
            kernel_name=self.pipeline.spec.kernel_name,
            cwd=self.pipeline.spec.cwd,
            timeout=self.timeout,
            warm=getattr(engine, "warm", True),
        )
        engine.prepare(self.pipeline.spec.kernel_name, 1 + len(running))
        running[engine.submit(task)] = (name, run, staging)
        emit("running", step)

    def _finish(
        self, name: str, step: StepSummary, run: Any, staging: Path, result: StepResult
    ) -> None:
        step.duration = result.duration
        step.kernel_reused = result.kernel_reused
        if result.notebook:
            try:
                run.log_artifact_bytes(EXECUTED_ARTIFACT, result.notebook)
                step.notebook = f"{run.store.artifacts.run_uri(run.run_id)}/{EXECUTED_ARTIFACT}"
            except MLOpsError:  # the artifact store is unwritable: the run still records the rest
                pass
        if result.stdout:
            run.update(stdout=result.stdout)
        if result.ok:
            target = self.cache.commit(
                step.key or "", staging, {"run_id": run.run_id, "step": name}
            )
            manifest = handover.read_manifest(target)
            if manifest is None:  # the step ran but wrote no manifest: a broken kernel
                result.ok, result.error = False, "the step wrote no outputs manifest"
            else:
                self.output_dirs[name] = str(target)
                self.manifests[name] = manifest
        if result.ok:
            step.status = "ran"
            run.set_tag(STATUS_TAG, "ran")
            run.end("FINISHED")
            return
        self.cache.discard(staging)
        step.status = "failed"
        step.error = result.error
        step.traceback = result.traceback
        run.set_tag(STATUS_TAG, "failed")
        run.end("FAILED", error=(result.error or "") + "\n\n" + (result.traceback or ""))

    def _record_cached(self, parent: Any, step: StepSummary, meta: dict[str, Any]) -> None:
        self._use(step.name, meta)
        step.status = "cached"
        step.key = meta.get("key")
        step.cached_from = meta.get("run_id")
        step.duration = 0.0
        node = self.pipeline.steps[step.name]
        run = fluent.start_run(
            step.name,
            parent=parent.run_id,
            params={p: self.values[p] for p in node.parameters if p in self.values},
            tags={
                "pipeline.step": step.name,
                STATUS_TAG: "cached",
                "pipeline.cached_from": meta.get("run_id") or "",
                "pipeline.key": meta.get("key") or "",
                **_metadata_tags(node),
            },
            kind="pipeline-step",
            live=False,
            capture=False,
            notebook_path=self.pipeline.spec.path,
        )
        run.end("FINISHED")
        step.run_id = run.run_id

    def _record_skipped(self, parent: Any, step: StepSummary, because: str) -> None:
        step.status = "skipped"
        step.error = f"upstream step {because!r} did not succeed"
        run = fluent.start_run(
            step.name,
            parent=parent.run_id,
            tags={"pipeline.step": step.name, STATUS_TAG: "skipped"},
            kind="pipeline-step",
            live=False,
            capture=False,
            notebook_path=self.pipeline.spec.path,
        )
        run.end("KILLED", error=f"skipped: {step.error}")
        step.run_id = run.run_id

    def _pipeline_metrics(
        self, parent: Any, summary: PipelineSummary, steps: dict[str, StepSummary]
    ) -> None:
        for var, producer in self.pipeline.metrics.items():
            if producer not in self.manifests:
                continue
            entry = self.manifests[producer]["outputs"].get(var)
            if entry is None:
                continue
            try:
                value = float(handover.load(entry, self.output_dirs[producer]))
            except (TypeError, ValueError) as exc:
                parent.set_tag(f"pipeline.metric_error.{var}", f"{type(exc).__name__}: {exc}")
                continue
            parent.log_metric(var, value)
            summary.metrics[var] = value

    # the generated step notebook ------------------------------------------------------------
    def _notebook(
        self, name: str, run_id: str, staging: Path, attach: bool, parent: Any
    ) -> dict[str, Any]:
        pipeline = self.pipeline
        spec = pipeline.spec
        node = pipeline.steps[name]
        store = fluent.get_store()
        config = {
            "step": name,
            "run_id": run_id,
            "attach": attach,
            "cwd": spec.cwd,
            "project_roots": [spec.cwd],
            "inputs": {var: self.output_dirs[producer] for var, producer in node.inputs.items()},
            "outputs": node.outputs,
            "output_dir": str(staging),
            "env": {
                "JUPYTER_MLOPS_STORE": store.url,
                "JUPYTER_MLOPS_ARTIFACTS": store.artifacts.root_url,
                fluent.PARENT_RUN_ENV: run_id,
                fluent.EXPERIMENT_ENV: fluent.current_experiment(),
                "JUPYTER_MLOPS_NOTEBOOK": spec.path,
            },
        }
        cells = [_generated(_setup_source(name, config), "setup")]
        if spec.parameters:  # one cell: papermill injects after the first one tagged so
            cells.append(_cell("\n\n".join(c.source for c in spec.parameters), ["parameters"]))
        for cell in spec.imports + spec.functions:
            cells.append(_cell(cell.source, []))
        if node.inputs:
            cells.append(_generated("_mlops_step.load_inputs(globals())", "inputs"))
        for cell in node.spec.cells:
            cells.append(_cell(cell.source, []))
        cells.append(_generated("_mlops_step.finish(globals())", "outputs"))
        for index, generated in enumerate(cells):
            generated["id"] = f"{name[:40]}-{index}"
        kernel = spec.kernel_name or "python3"
        return {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {
                "kernelspec": {"name": kernel, "display_name": kernel, "language": "python"},
                "language_info": {"name": "python"},
                "jupyter_mlops": {"pipeline": pipeline.name, "step": name, "run_id": run_id},
            },
            "cells": cells,
        }


def _cell(source: str, tags: list[str]) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "metadata": {"tags": tags} if tags else {},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


def _generated(source: str, what: str) -> dict[str, Any]:
    cell = _cell(source, [GENERATED_TAG])
    cell["metadata"]["jupyter_mlops"] = what
    return cell


def _setup_source(step: str, config: dict[str, Any]) -> str:
    """The first cell: load ``pipeline/kernel.py`` by its file (found where the kernel's own
    jupyter_mlops is installed, so a Dask worker on another machine finds its copy) without
    importing the package, and begin the step."""
    return (
        f"# jupyter-mlops pipeline step {step!r}: a clean namespace, the step's run, its inputs\n"
        "def _mlops_load():\n"
        "    import importlib.util, os, sys\n"
        f"    module = sys.modules.get({KERNEL_MODULE_NAME!r})\n"
        "    if module is None:\n"
        "        package = importlib.util.find_spec('jupyter_mlops').origin\n"
        "        path = os.path.join(os.path.dirname(package), 'pipeline', 'kernel.py')\n"
        f"        spec = importlib.util.spec_from_file_location({KERNEL_MODULE_NAME!r}, path)\n"
        "        module = importlib.util.module_from_spec(spec)\n"
        f"        sys.modules[{KERNEL_MODULE_NAME!r}] = module\n"
        "        spec.loader.exec_module(module)\n"
        "    return module\n"
        f"_mlops_load().begin({config!r})"
    )


def _uses_tracking(source: str) -> bool:
    return "mlops" in source


def _metadata_tags(node: graph.StepNode) -> dict[str, str]:
    tags = {}
    for key, value in node.spec.metadata.items():
        tags[f"pipeline.{key}"] = json.dumps(value) if isinstance(value, dict) else str(value)
    if node.spec.nocache:
        tags["pipeline.nocache"] = "true"
    return tags
