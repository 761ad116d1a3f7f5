"""What runs inside a step's kernel: the first and last cells of every generated step notebook.

``begin`` gives the step a clean namespace (a warm kernel ran another step before), the
pipeline's environment, and the step's run to log into; ``load_inputs`` loads the values
upstream steps handed over; ``finish`` writes the values later steps read, then lets go of
the run.

Loaded from its file without importing the package (see ``handover``): standard library only
at the top; ``jupyter_mlops`` itself is imported only when the step uses the tracking API.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
from pathlib import Path
from typing import Any

try:
    from . import handover
except ImportError:  # loaded from its file: load the sibling the same way
    import importlib.util

    _spec = importlib.util.spec_from_file_location(
        "_jupyter_mlops_handover", Path(__file__).with_name("handover.py")
    )
    handover = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
    sys.modules["_jupyter_mlops_handover"] = handover
    _spec.loader.exec_module(handover)  # type: ignore[union-attr]

MODULE_NAME = "_jupyter_mlops_step"
_baseline: dict[str, Any] | None = None  # the kernel as it was before its first step
_config: dict[str, Any] = {}
_attached: Any = None
steps_run = 0  # how many steps this kernel has begun (1 = it was fresh)


def begin(config: dict[str, Any]) -> None:
    """Start a step: clean namespace, environment, working directory, the step's run."""
    global _baseline, _config, steps_run
    if _baseline is None:
        _baseline = {
            "environ": dict(os.environ),
            "path": list(sys.path),
            "cwd": os.getcwd(),
        }
        # Run first at the kernel's exit (atexit is last in, first out): the interpreter's
        # shutdown then skips its cycle collections over every object of the kernel (IPython,
        # the steps' libraries), which made a step kernel take 0.12-0.17 s to exit after the
        # pipeline asked it to, instead of 0.03 s. Garbage at exit needs no collecting.
        atexit.register(gc.freeze)
    else:
        _reset(config.get("project_roots", []))
    steps_run += 1
    _config = config
    os.environ.clear()
    os.environ.update(_baseline["environ"])
    os.environ.update({k: v for k, v in config.get("env", {}).items() if v is not None})
    sys.path[:] = _baseline["path"]
    os.chdir(config.get("cwd") or _baseline["cwd"])
    shell = _shell()
    if shell is not None:
        shell.user_ns["_mlops_step"] = sys.modules.get(MODULE_NAME) or sys.modules[__name__]
    if config.get("attach"):
        from jupyter_mlops.tracking import fluent

        global _attached
        _attached = fluent.attach_run(config["run_id"])


def load_inputs(namespace: dict[str, Any]) -> None:
    handover.load_inputs(_config.get("inputs", {}), namespace)


def finish(namespace: dict[str, Any]) -> None:
    """End a step that ran to its last cell: hand its outputs over, release its run."""
    outputs = _config.get("outputs") or []
    if outputs or _config.get("output_dir"):
        handover.save_outputs(namespace, outputs, _config["output_dir"], _config["step"])
    _release_tracking("FINISHED")


def _release_tracking(status: str) -> None:
    """Detach the step's run, end the runs the step left open (as a kernel exit would), make
    everything logged durable, and forget the tracking state before the next step."""
    global _attached
    fluent = sys.modules.get("jupyter_mlops.tracking.fluent")
    if fluent is None:
        return
    if _attached is not None:
        fluent.detach_run(_attached)
        _attached = None
    for run in reversed(fluent.active_runs()):
        with contextlib.suppress(Exception):
            run.end(status)
    fluent.flush()
    fluent.reset()


_real_paths: dict[str, str | None] = {}


def _real_path(file: str) -> str | None:
    """``file`` with its symlinks resolved, remembered: every step after the first looks at
    every module of the kernel (1,300 with pandas), and resolving them all took 35 ms a step.
    A module's file does not move while the kernel runs; a relative one (rare) depends on the
    working directory, which each step sets: not remembered."""
    if file in _real_paths:
        return _real_paths[file]
    try:
        real: str | None = str(Path(file).resolve())
    except (OSError, ValueError):
        real = None
    if os.path.isabs(file):
        _real_paths[file] = real
    return real


def _shell() -> Any:
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


def _reset(project_roots: list[str]) -> None:
    """Forget what the previous step left: its variables, the project's own modules (they may
    have been edited since), open figures, tracking state."""
    _release_tracking("FINISHED")
    shell = _shell()
    if shell is not None:
        shell.reset(new_session=False)
    roots = tuple(str(Path(r).resolve()) + os.sep for r in project_roots)
    if roots:
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if file and not name.startswith(("jupyter_mlops", "_jupyter_mlops")):
                real = _real_path(file)
                if real is not None and real.startswith(roots):
                    del sys.modules[name]
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        with contextlib.suppress(Exception):
            plt.close("all")
