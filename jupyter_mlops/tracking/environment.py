"""The environment a run executes in: interpreter, platform and imported package versions.

This module uses the standard library only, on purpose: ``jupyter mlops run --kernel K``
sends its source to kernel ``K`` and runs it there (see ``kernel_probe_expression``), so the
run records the kernel's interpreter and packages, not those of the process that started it,
even when jupyter-mlops is not installed in the kernel's environment.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

_dist_map: dict[str, list[str]] | None = None
_versions_cache: tuple[int, dict[str, str]] | None = None


def imported_package_versions() -> dict[str, str]:
    """Versions of the distributions whose top-level modules are imported right now.

    Cached until the number of imported modules changes: thousands of runs in one loop must
    not walk package metadata thousands of times.
    """
    global _dist_map, _versions_cache
    from importlib import metadata

    module_count = len(sys.modules)
    cached = _versions_cache
    if cached is not None and cached[0] == module_count:
        return dict(cached[1])

    if _dist_map is None:
        try:
            _dist_map = dict(metadata.packages_distributions())
        except Exception:
            _dist_map = {}
    top_level = {name.partition(".")[0] for name in list(sys.modules)}
    versions: dict[str, str] = {}
    dist_map = _dist_map
    for module in top_level:
        if module.startswith("_"):
            continue
        for dist in dist_map.get(module, ()):
            if dist in versions:
                continue
            try:
                versions[dist] = metadata.version(dist)
            except Exception:
                continue
    result = dict(sorted(versions.items(), key=lambda kv: kv[0].lower()))
    _versions_cache = (module_count, result)
    return dict(result)


def environment_info() -> dict[str, Any]:
    """Interpreter, platform, host, process and the versions of imported packages."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "host": platform.node(),
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "packages": imported_package_versions(),
    }


def kernel_probe_expression() -> str:
    """One Python expression that evaluates, in a kernel, to the JSON text of that kernel's
    ``environment_info()`` plus the experiment the notebook set (``experiment``).

    It runs this module's source in a namespace of its own, so the user's namespace is left
    as it was; it is sent as a ``user_expressions`` entry of a silent execute request.
    """
    with open(__file__, encoding="utf-8") as handle:
        source = handle.read()
    return (
        "(lambda ns: (exec(compile(ns['src'], '<jupyter-mlops environment>', 'exec'), ns), "
        "__import__('json').dumps(dict(ns['environment_info'](), "
        "experiment=__import__('os').environ.get('JUPYTER_MLOPS_EXPERIMENT'))))[1])"
        f"({{'src': {source!r}, '__name__': '_jupyter_mlops_environment'}})"
    )
