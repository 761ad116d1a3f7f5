"""Cell tags -> pipeline steps: Kubeflow Kale's vocabulary, so Kale notebooks run unchanged.

A notebook is read as JSON here, not through nbformat: importing nbformat costs over a second
(its JSON-schema stack), and a cached rerun must finish well under that. The structure a
pipeline needs (cells, their type, source, id and tags) is checked by hand.

Vocabulary (cell metadata ``tags``):

- ``step:NAME`` (older ``block:NAME``): the cell starts, or continues, step NAME; untagged cells
  after it belong to it. A step's cells are contiguous.
- ``prev:NAME`` (repeatable, on a ``step:`` cell): an explicit dependency.
- ``imports``, ``functions``: prepended to every step (imports first).
- ``pipeline-parameters`` or papermill's ``parameters``: the pipeline's parameters.
- ``pipeline-metrics``: the variables it names become metrics of the pipeline run.
- ``skip``: never runs in a pipeline (papermill's ``injected-parameters`` too).
- ``nocache``: the step has side effects; it runs every time.
- ``limit:K:V``, ``annotation:K:V``, ``label:K:V``, ``image:V``: cluster settings, kept as the
  step's metadata.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import DuplicateStepError, NotebookFormatError, TagError

KALE_METADATA_KEY = "kubeflow_notebook"

NAME = r"[A-Za-z0-9_][A-Za-z0-9_-]*"
_STEP = re.compile(rf"^(?:step|block):({NAME})?$")
_PREV = re.compile(rf"^prev:({NAME})$")
_KEYED = re.compile(r"^(limit|annotation|label):([^:]+):(.*)$")
_IMAGE = re.compile(r"^image:(.+)$")
# Tags that make the cell part of a block of the pipeline rather than of a step; untagged
# cells after one of them continue that block (Kale's rule).
SPECIAL = {
    "imports": "imports",
    "functions": "functions",
    "pipeline-parameters": "parameters",
    "parameters": "parameters",
    "pipeline-metrics": "metrics",
    "skip": "skip",
    "injected-parameters": "skip",  # papermill's output of an earlier run, not source
}
VOCABULARY = (
    "step:NAME, block:NAME, prev:NAME, imports, functions, pipeline-parameters, parameters, "
    "pipeline-metrics, skip, nocache, limit:KEY:VALUE, annotation:KEY:VALUE, label:KEY:VALUE, "
    "image:IMAGE"
)


@dataclass
class Cell:
    """A code cell of the source notebook: its position (0-based, all cells counted)."""

    index: int
    cell_id: str | None
    source: str
    notebook: str = ""

    def where(self) -> str:
        first = next((line.strip() for line in self.source.splitlines() if line.strip()), "")
        ident = f" (id {self.cell_id})" if self.cell_id else ""
        prefix = f"{Path(self.notebook).name} " if self.notebook else ""
        return f"{prefix}cell {self.index}{ident}: {first[:50]!r}"


@dataclass
class StepSpec:
    name: str
    cells: list[Cell] = field(default_factory=list)
    prev: list[str] = field(default_factory=list)
    nocache: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)  # limits, annotations, labels, image
    notebook: str | None = None  # a multi-notebook pipeline: the notebook that is this step

    @property
    def source(self) -> str:
        return "\n\n".join(c.source for c in self.cells)


@dataclass
class PipelineSpec:
    """What the tags say, before any analysis."""

    path: str  # the notebook (or pipeline.yaml)
    name: str
    experiment: str | None
    steps: list[StepSpec]
    imports: list[Cell] = field(default_factory=list)
    functions: list[Cell] = field(default_factory=list)
    parameters: list[Cell] = field(default_factory=list)
    metrics: list[Cell] = field(default_factory=list)
    ignored: list[Cell] = field(default_factory=list)  # untagged cells before the first step
    metadata: dict[str, Any] = field(default_factory=dict)  # Kale's notebook metadata
    kernel_name: str | None = None
    cwd: str = "."

    def step(self, name: str) -> StepSpec:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)


def read_notebook(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The notebook's JSON, structurally checked (cells, types, sources); errors name the file."""
    file = Path(path)
    if not file.is_file():
        raise NotebookFormatError(f"Notebook {str(file)!r} does not exist.")
    try:
        node = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise NotebookFormatError(f"{str(file)!r} is not a Jupyter notebook: {exc}") from None
    except json.JSONDecodeError as exc:
        raise NotebookFormatError(
            f"{str(file)!r} is not a valid Jupyter notebook: not JSON ({exc})."
        ) from None
    if not isinstance(node, dict) or not isinstance(node.get("cells"), list):
        raise NotebookFormatError(
            f"{str(file)!r} is not a valid Jupyter notebook: it has no 'cells' list."
        )
    if node.get("nbformat") != 4:
        raise NotebookFormatError(
            f"{str(file)!r} is notebook format {node.get('nbformat')!r}; pipelines read "
            "format 4 (open and save it in JupyterLab to convert it)."
        )
    for index, cell in enumerate(node["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise NotebookFormatError(
                f"{str(file)!r} is not a valid Jupyter notebook: cell {index} has no valid "
                "cell_type."
            )
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            cell["source"] = "".join(source)
        elif not isinstance(source, str):
            raise NotebookFormatError(
                f"{str(file)!r} is not a valid Jupyter notebook: cell {index} source is "
                f"{type(source).__name__}, not text."
            )
        metadata = cell.get("metadata", {})
        if not isinstance(metadata, dict):
            raise NotebookFormatError(
                f"{str(file)!r} is not a valid Jupyter notebook: cell {index} metadata is "
                "not an object."
            )
        cell["metadata"] = metadata
    if not isinstance(node.get("metadata", {}), dict):
        raise NotebookFormatError(
            f"{str(file)!r} is not a valid Jupyter notebook: metadata is not an object."
        )
    return node


@dataclass
class _CellTags:
    special: str | None = None  # imports, functions, parameters, metrics, skip
    step: str | None = None
    prev: list[str] = field(default_factory=list)
    nocache: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


def parse_cell_tags(tags: Any, cell: Cell) -> _CellTags:
    """One cell's tags in the vocabulary; anything else is a TagError naming the cell."""
    parsed = _CellTags()
    if tags is None:
        return parsed
    if not isinstance(tags, list):
        raise TagError(f"Tags of {cell.where()} must be a list, got {type(tags).__name__}.")
    steps: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise TagError(f"Tag {tag!r} of {cell.where()} is not text.")
        tag = tag.strip()
        if tag in SPECIAL:
            if parsed.special is not None and parsed.special != SPECIAL[tag]:
                raise TagError(
                    f"{cell.where()} is tagged both {parsed.special!r} and {tag!r}; a cell "
                    "belongs to one block."
                )
            parsed.special = SPECIAL[tag]
            continue
        if tag == "nocache":
            parsed.nocache = True
            continue
        match = _STEP.match(tag)
        if match:
            if match.group(1):  # `block:` alone (Kale's extension writes it) means no step
                steps.append(match.group(1))
            continue
        match = _PREV.match(tag)
        if match:
            parsed.prev.append(match.group(1))
            continue
        match = _KEYED.match(tag)
        if match:
            kind, key, value = match.groups()
            parsed.metadata.setdefault(f"{kind}s", {})[key] = value
            continue
        match = _IMAGE.match(tag)
        if match:
            parsed.metadata["image"] = match.group(1)
            continue
        raise TagError(f"Unknown tag {tag!r} on {cell.where()}. Pipeline tags are: {VOCABULARY}.")
    if len(set(steps)) > 1:
        raise TagError(
            f"{cell.where()} names several steps ({', '.join(steps)}); a cell belongs to one."
        )
    parsed.step = steps[0] if steps else None
    if parsed.special and (parsed.step or parsed.prev):
        # Kale lets the special tag win; a step tag beside it would silently lose the cell.
        raise TagError(
            f"{cell.where()} is tagged {parsed.special!r} and also names a step; "
            "remove one of the tags."
        )
    if parsed.prev and not parsed.step:
        raise TagError(
            f"{cell.where()} has prev:{parsed.prev[0]} but no step:NAME tag; put prev: on the "
            "cell that starts the step."
        )
    return parsed


def parse_notebook(path: str | os.PathLike[str]) -> PipelineSpec:
    """The pipeline a tagged notebook describes (no analysis yet)."""
    node = read_notebook(path)
    notebook = str(Path(path).resolve())
    metadata = node.get("metadata", {})
    kale = metadata.get(KALE_METADATA_KEY) or {}
    if not isinstance(kale, dict):
        kale = {}
    spec = PipelineSpec(
        path=notebook,
        name=str(kale.get("pipeline_name") or Path(notebook).stem),
        experiment=_experiment_name(kale),
        steps=[],
        metadata=dict(kale),
        kernel_name=(metadata.get("kernelspec") or {}).get("name"),
        cwd=str(Path(notebook).parent),
    )
    blocks = {
        "imports": spec.imports,
        "functions": spec.functions,
        "parameters": spec.parameters,
        "metrics": spec.metrics,
    }
    steps: dict[str, StepSpec] = {}
    current: str | None = None  # a block name or "step:NAME"
    for index, raw in enumerate(node["cells"]):
        if raw["cell_type"] != "code":
            continue
        cell = Cell(index, raw.get("id"), raw["source"], notebook)
        tags = parse_cell_tags(raw["metadata"].get("tags"), cell)
        if tags.special == "skip":
            continue  # Kale: a skipped cell does not change the current block
        if tags.special:
            blocks[tags.special].append(cell)
            current = tags.special
            continue
        if tags.step is None:
            if current is None:
                if cell.source.strip():
                    spec.ignored.append(cell)
                continue
            if current in blocks:
                blocks[current].append(cell)
                continue
            step = steps[current]
        else:
            name = tags.step
            found = steps.get(name)
            if found is None:
                step = steps[name] = StepSpec(name)
                spec.steps.append(step)
            elif current != name:
                first = found.cells[0]
                raise DuplicateStepError(
                    f"Two steps are named {name!r}: {first.where()} and {cell.where()}, with "
                    "other cells between them. Give the second one another name (a step's "
                    "cells are contiguous)."
                )
            else:
                step = found
            current = name
            for prev in tags.prev:
                if prev not in step.prev:
                    step.prev.append(prev)
        step.cells.append(cell)
        step.nocache = step.nocache or tags.nocache
        for key, value in tags.metadata.items():
            if isinstance(value, dict):
                step.metadata.setdefault(key, {}).update(value)
            else:
                step.metadata[key] = value
    if not spec.steps:
        raise TagError(
            f"{notebook!r} has no step: tagged cells, so it is not a pipeline (tag the cell "
            "that starts each step with step:NAME)."
        )
    _apply_step_defaults(spec)
    return spec


def _experiment_name(kale: dict[str, Any]) -> str | None:
    name = kale.get("experiment_name")
    experiment = kale.get("experiment")
    if not name and isinstance(experiment, dict):
        name = experiment.get("name")
    return str(name) if name else None


def _apply_step_defaults(spec: PipelineSpec) -> None:
    """Kale's ``steps_defaults`` (notebook metadata: limits/annotations/labels for every step)
    become each step's metadata under what its own tags set."""
    defaults = spec.metadata.get("steps_defaults")
    if not isinstance(defaults, list):
        return
    parsed: dict[str, Any] = {}
    for entry in defaults:
        match = _KEYED.match(str(entry))
        if match:
            kind, key, value = match.groups()
            parsed.setdefault(f"{kind}s", {})[key] = value
    for step in spec.steps:
        for key, values in parsed.items():
            step.metadata[key] = {**values, **step.metadata.get(key, {})}


def parse_pipeline_file(path: str | os.PathLike[str]) -> PipelineSpec:
    """A pipeline of several notebooks, each one whole step, from a small YAML file::

    name: churn            # optional (default: the file's folder name)
    experiment: churn      # optional
    steps:
      - notebook: load.ipynb          # name: the notebook's stem unless given
      - notebook: train.ipynb
        name: train
        prev: [load]                  # optional: data flow adds dependencies too
    """
    import yaml  # papermill depends on PyYAML

    file = Path(path).resolve()
    if not file.is_file():
        raise NotebookFormatError(f"Pipeline file {str(file)!r} does not exist.")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise NotebookFormatError(f"{str(file)!r} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list) or not data["steps"]:
        raise NotebookFormatError(f"{str(file)!r} must be a mapping with a non-empty 'steps' list.")
    spec = PipelineSpec(
        path=str(file),
        name=str(data.get("name") or file.parent.name),
        experiment=str(data["experiment"]) if data.get("experiment") else None,
        steps=[],
        cwd=str(file.parent),
    )
    seen: dict[str, str] = {}
    for position, entry in enumerate(data["steps"]):
        if isinstance(entry, str):
            entry = {"notebook": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("notebook"), str):
            raise NotebookFormatError(
                f"{str(file)!r}: step {position + 1} needs a 'notebook' path."
            )
        notebook = (file.parent / entry["notebook"]).resolve()
        name = str(entry.get("name") or notebook.stem)
        if not re.fullmatch(NAME, name):
            raise TagError(f"{str(file)!r}: step name {name!r} is not a valid step name.")
        if name in seen:
            raise DuplicateStepError(
                f"Two steps are named {name!r} in {str(file)!r}: {seen[name]} and "
                f"{entry['notebook']}."
            )
        seen[name] = entry["notebook"]
        prev = entry.get("prev") or []
        if isinstance(prev, str):
            prev = [prev]
        step = StepSpec(name, prev=[str(p) for p in prev], notebook=str(notebook))
        step.nocache = bool(entry.get("nocache", False))
        node = read_notebook(notebook)
        if spec.kernel_name is None:
            spec.kernel_name = (node.get("metadata", {}).get("kernelspec") or {}).get("name")
        for index, raw in enumerate(node["cells"]):
            if raw["cell_type"] != "code":
                continue
            cell = Cell(index, raw.get("id"), raw["source"], str(notebook))
            tags = parse_cell_tags(raw["metadata"].get("tags"), cell)
            if tags.special == "skip":
                continue
            if tags.special == "parameters":
                spec.parameters.append(cell)
            elif tags.special == "metrics":
                spec.metrics.append(cell)
            else:  # the whole notebook is the step: imports and step tags are its cells
                step.cells.append(cell)
                step.nocache = step.nocache or tags.nocache
        spec.steps.append(step)
    return spec


def load_spec(path: str | os.PathLike[str]) -> PipelineSpec:
    """A tagged notebook, or a pipeline YAML file of several notebooks."""
    if str(path).endswith((".yaml", ".yml")):
        return parse_pipeline_file(path)
    return parse_notebook(path)
