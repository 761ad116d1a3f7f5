"""Step cache: a content hash per step, and the folder of outputs it made.

A step's key hashes its code, the imports/functions cells, the parameter values it reads, the
content hashes of the values it loads, the names it must hand over, its kernel, and the
source of every local module it imports (followed through their own imports) that lives in
the project folder. Same key, same outputs: the step is not run and no kernel starts.

Layout: ``<cache>/steps/<key>/`` holds the outputs (``handover``'s files and manifest) and
``meta.json`` (the run that made them). A step writes into ``<cache>/tmp/...`` and the folder is
renamed into place when the step succeeded, so a half-written entry is never a hit.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..config import PIPELINE_CACHE_ENV, env
from . import handover

KEY_VERSION = "1"
META = "meta.json"


def default_cache_dir(artifacts_root_url: str | None = None) -> Path:
    """``$JUPYTER_MLOPS_PIPELINE_CACHE``, else beside a local artifact folder (so a store and
    its cache go together), else ``<jupyter data dir>/mlops/pipeline-cache``."""
    explicit = env(PIPELINE_CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser().resolve()
    if artifacts_root_url and "://" not in artifacts_root_url:
        return Path(artifacts_root_url).expanduser().resolve().parent / "pipeline-cache"
    if artifacts_root_url and artifacts_root_url.startswith("file://"):
        return Path(artifacts_root_url[len("file://") :]).resolve().parent / "pipeline-cache"
    from ..config import default_root

    return default_root() / "pipeline-cache"


def local_module_files(
    modules: Iterable[str], roots: Iterable[str | os.PathLike[str]]
) -> list[Path]:
    """The files under ``roots`` that importing ``modules`` runs, following their imports."""
    root_paths = [Path(r).resolve() for r in roots]
    found: dict[Path, None] = {}
    queue = list(modules)
    seen: set[str] = set()
    while queue:
        module = queue.pop()
        if module in seen:
            continue
        seen.add(module)
        for file, name in _module_files(module, root_paths):
            if file in found:
                continue
            found[file] = None
            queue.extend(_imports_of(file, name))
    return sorted(found)


def _module_files(module: str, roots: list[Path]) -> list[tuple[Path, str]]:
    """The files importing ``module`` runs (its packages' ``__init__`` too), each with the
    dotted name of the module it is."""
    parts = module.split(".")
    files = []
    for root in roots:
        for depth in range(1, len(parts) + 1):
            base = root.joinpath(*parts[:depth])
            for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                if candidate.is_file():
                    files.append((candidate.resolve(), ".".join(parts[:depth])))
    return files


def _imports_of(file: Path, module: str) -> list[str]:
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return []
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            if prefix:
                names.append(prefix)
                names.extend(f"{prefix}.{alias.name}" for alias in node.names)
    return names


def step_key(
    *,
    step: str,
    code: str,
    prelude: str,
    parameters: Mapping[str, Any],
    inputs: Mapping[str, str],
    outputs: Iterable[str],
    kernel: str | None,
    module_files: Iterable[Path],
    root: str | os.PathLike[str],
) -> str:
    """The step's content hash (hex)."""
    modules = {}
    for file in module_files:
        try:
            relative = str(file.relative_to(Path(root).resolve()))
        except ValueError:
            relative = str(file)
        modules[relative] = hashlib.sha256(file.read_bytes()).hexdigest()
    payload = {
        "version": KEY_VERSION,
        "step": step,
        "code": code,
        "prelude": prelude,
        "parameters": {k: repr(v) for k, v in sorted(parameters.items())},
        "inputs": dict(sorted(inputs.items())),
        "outputs": sorted(outputs),
        "kernel": kernel,
        "modules": modules,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


class StepCache:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def entry(self, key: str) -> Path:
        return self.root / "steps" / key

    def lookup(self, key: str) -> dict[str, Any] | None:
        """The entry's meta (with its manifest) when complete, else None."""
        folder = self.entry(key)
        manifest = handover.read_manifest(folder)
        if manifest is None:
            return None
        try:
            meta = json.loads((folder / META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        for entry in manifest["outputs"].values():
            if "file" in entry and not (folder / entry["file"]).is_file():
                return None
        meta["manifest"] = manifest
        meta["folder"] = str(folder)
        return meta

    def staging(self, key: str) -> Path:
        folder = self.root / "tmp" / f"{key}-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def commit(self, key: str, staging: Path, meta: Mapping[str, Any]) -> Path:
        """Move a finished step's outputs into place as the entry for ``key``."""
        (staging / META).write_text(
            json.dumps({**meta, "key": key, "created": time.time()}), encoding="utf-8"
        )
        target = self.entry(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            trash = self.root / "tmp" / f"old-{key}-{uuid.uuid4().hex[:8]}"
            with contextlib.suppress(OSError):
                target.rename(trash)
                shutil.rmtree(trash, ignore_errors=True)
        try:
            staging.rename(target)
        except OSError:  # another run committed the same key meanwhile: same content
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)
