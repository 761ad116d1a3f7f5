"""The pipeline DAG: steps, the names they hand over, and why each edge exists.

A step depends on another when a ``prev:`` tag says so, or when it reads a name that the other
defines or changes (``model.fit(...)`` as a statement, ``df[c] = ...``, ``obj.a = ...``).
The producer of a name is, as in Kale, the closest ``prev:`` ancestor that provides it when
the step has ``prev:`` tags; otherwise the latest step above it in the notebook that does
(what running the notebook top to bottom would have used). So ``prev:`` is optional when data flows.
"""

from __future__ import annotations

import json
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import CycleError, PipelineWarning, UnknownStepError
from .names import BUILTIN_NAMES, CodeNames, analyze
from .parameters import Parameter, declared_parameters
from .tags import PipelineSpec, StepSpec, load_spec


@dataclass
class StepNode:
    spec: StepSpec
    names: CodeNames
    inputs: dict[str, str] = field(default_factory=dict)  # name -> producing step
    outputs: list[str] = field(default_factory=list)  # names it hands over
    parameters: list[str] = field(default_factory=list)  # pipeline parameters it reads
    upstream: list[str] = field(default_factory=list)
    reasons: dict[str, list[str]] = field(default_factory=dict)  # upstream step -> why

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class Pipeline:
    spec: PipelineSpec
    steps: dict[str, StepNode]  # notebook order
    order: list[str]  # topological, ties in notebook order
    parameters: dict[str, Parameter]
    metrics: dict[str, str]  # variable -> producing step
    prelude: str  # imports then functions cells, prepended to every step
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.name

    def downstream(self, name: str) -> list[str]:
        """``name`` and every step that depends on it, in run order."""
        found = {name}
        for step in self.order:
            if any(up in found for up in self.steps[step].upstream):
                found.add(step)
        return [s for s in self.order if s in found]

    def ancestors(self, name: str) -> set[str]:
        seen: set[str] = set()
        queue = deque(self.steps[name].upstream)
        while queue:
            step = queue.popleft()
            if step not in seen:
                seen.add(step)
                queue.extend(self.steps[step].upstream)
        return seen

    def require(self, name: str) -> StepNode:
        node = self.steps.get(name)
        if node is None:
            raise UnknownStepError(
                f"The pipeline has no step {name!r} (its steps: {', '.join(self.steps)})."
            )
        return node

    # presentation ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.spec.path,
            "experiment": self.spec.experiment,
            "parameters": {
                p.name: (p.default if p.typed else None) for p in self.parameters.values()
            },
            "steps": [
                {
                    "name": node.name,
                    "cells": [c.index for c in node.spec.cells],
                    "upstream": node.upstream,
                    "inputs": node.inputs,
                    "outputs": node.outputs,
                    "parameters": node.parameters,
                    "nocache": node.spec.nocache,
                    "metadata": node.spec.metadata,
                }
                for node in self.steps.values()
            ],
            "edges": [
                {"from": up, "to": node.name, "reasons": node.reasons[up]}
                for node in self.steps.values()
                for up in node.upstream
            ],
            "order": self.order,
            "metrics": self.metrics,
            "warnings": self.warnings,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def to_dot(self) -> str:
        lines = [f"digraph {json.dumps(self.name)} {{", "  rankdir=LR;", "  node [shape=box];"]
        for node in self.steps.values():
            label = node.name + (" (nocache)" if node.spec.nocache else "")
            lines.append(f"  {json.dumps(node.name)} [label={json.dumps(label)}];")
        for node in self.steps.values():
            for up in node.upstream:
                label = "; ".join(node.reasons[up])
                lines.append(
                    f"  {json.dumps(up)} -> {json.dumps(node.name)} [label={json.dumps(label)}];"
                )
        lines.append("}")
        return "\n".join(lines)

    def to_text(self) -> str:
        params = ", ".join(p.describe() for p in self.parameters.values()) or "none"
        out = [
            f"Pipeline {self.name} ({self.spec.path})",
            f"  {len(self.steps)} steps; parameters: {params}",
        ]
        if self.spec.experiment:
            out.append(f"  experiment: {self.spec.experiment}")
        width = max(len(n) for n in self.steps)
        for name in self.order:
            node = self.steps[name]
            flags = " [nocache]" if node.spec.nocache else ""
            cells = ",".join(str(c.index) for c in node.spec.cells)
            out.append(f"  {name.ljust(width)}  cells {cells}{flags}")
            for up in node.upstream:
                out.append(f"  {''.ljust(width)}    <- {up}: {'; '.join(node.reasons[up])}")
        if self.metrics:
            out.append(
                "Pipeline metrics: "
                + ", ".join(f"{var} (from {step})" for var, step in self.metrics.items())
            )
        for warning in self.warnings:
            out.append(f"Warning: {warning}")
        return "\n".join(out)


def build(spec: PipelineSpec, *, warn: bool = True) -> Pipeline:
    """Analyse the steps, add the data edges, check ``prev:`` names and cycles."""
    prelude_cells = spec.imports + spec.functions
    prelude = "\n\n".join(c.source for c in prelude_cells)
    prelude_names = analyze(prelude, "the imports/functions cells")
    parameters: dict[str, Parameter] = {}
    for cell in spec.parameters:
        parameters.update(declared_parameters(cell.source, f"parameters {cell.where()}"))
    known = set(spec_names := [s.name for s in spec.steps])
    for step in spec.steps:
        for prev in step.prev:
            if prev not in known:
                raise UnknownStepError(
                    f"Step {step.name!r} has prev:{prev}, but no step is named {prev!r} "
                    f"(steps: {', '.join(spec_names)})."
                )
    nodes: dict[str, StepNode] = {}
    for step in spec.steps:
        label = f"step {step.name!r} ({step.cells[0].where()})" if step.cells else step.name
        names = analyze(step.source, label) if step.cells else CodeNames()
        nodes[step.name] = StepNode(step, names)
    issues: list[str] = []
    position = {name: i for i, name in enumerate(nodes)}
    for node in nodes.values():
        for prev in node.spec.prev:
            _edge(node, prev, f"prev:{prev} tag")
    for node in nodes.values():
        reads = _reads_with_prelude_functions(node.names, prelude_names)
        for name in reads:
            if name in parameters:
                if name not in node.parameters:
                    node.parameters.append(name)
                continue
            if name in prelude_names.defines:
                continue
            producer = _producer(name, node, nodes, position)
            if producer is None:
                issues.append(
                    f"step {node.name!r} reads {name!r}, which no step above it, imports or "
                    "functions cell defines"
                )
                continue
            node.inputs[name] = producer
            _edge(node, producer, f"reads {name}")
            if name not in nodes[producer].outputs:
                nodes[producer].outputs.append(name)
    metrics: dict[str, str] = {}
    if spec.metrics:
        metric_names = analyze("\n".join(c.source for c in spec.metrics), "pipeline-metrics")
        for name in metric_names.reads:
            producer = _latest_provider(name, list(nodes.values()))
            if producer is None:
                issues.append(f"pipeline-metrics names {name!r}, which no step defines")
                continue
            metrics[name] = producer
            if name not in nodes[producer].outputs:
                nodes[producer].outputs.append(name)
    for node in nodes.values():
        node.outputs.sort()
    order = _topological(nodes)
    if warn:
        for issue in issues:
            warnings.warn(PipelineWarning(issue), stacklevel=2)
    return Pipeline(spec, nodes, order, parameters, metrics, prelude, issues)


def load(path: str, *, warn: bool = True) -> Pipeline:
    """Parse and analyse a tagged notebook (or pipeline YAML file)."""
    return build(load_spec(path), warn=warn)


def _edge(node: StepNode, upstream: str, reason: str) -> None:
    if upstream not in node.reasons:
        node.upstream.append(upstream)
        node.reasons[upstream] = []
    if reason not in node.reasons[upstream]:
        node.reasons[upstream].append(reason)


def _reads_with_prelude_functions(names: CodeNames, prelude: CodeNames) -> list[str]:
    """A step calling a function of the functions cells reads that function's globals too
    (Kale's free-variable propagation), transitively."""
    reads = list(names.reads)
    queue = [call for call in names.calls if call in prelude.functions]
    seen: set[str] = set()
    while queue:
        function = queue.pop()
        if function in seen:
            continue
        seen.add(function)
        for name in sorted(prelude.functions[function]):
            if name in prelude.functions:
                queue.append(name)
            elif name not in reads and name not in names.defines:
                reads.append(name)
    return [r for r in reads if r not in BUILTIN_NAMES]


def _provides(node: StepNode, name: str) -> bool:
    return name in node.names.defines or name in node.names.changes


def _producer(
    name: str, node: StepNode, nodes: dict[str, StepNode], position: dict[str, int]
) -> str | None:
    if node.spec.prev:  # Kale: the closest explicit ancestor that provides it
        seen = {node.name}
        queue = deque(node.spec.prev)
        while queue:
            candidate = queue.popleft()
            if candidate in seen:
                continue
            seen.add(candidate)
            if _provides(nodes[candidate], name) and position[candidate] < position[node.name]:
                return candidate
            queue.extend(nodes[candidate].spec.prev)
    above = [n for n in nodes.values() if position[n.name] < position[node.name]]
    return _latest_provider(name, above)


def _latest_provider(name: str, candidates: list[StepNode]) -> str | None:
    for candidate in reversed(candidates):
        if _provides(candidate, name):
            return candidate.name
    return None


def _topological(nodes: dict[str, StepNode]) -> list[str]:
    position = {name: i for i, name in enumerate(nodes)}
    pending = {name: len(set(node.upstream)) for name, node in nodes.items()}
    children: dict[str, list[str]] = {name: [] for name in nodes}
    for node in nodes.values():
        for up in set(node.upstream):
            children[up].append(node.name)
    ready = sorted((n for n, count in pending.items() if count == 0), key=position.__getitem__)
    order: list[str] = []
    while ready:
        name = ready.pop(0)
        order.append(name)
        for child in children[name]:
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
                ready.sort(key=position.__getitem__)
    if len(order) < len(nodes):
        cycle = _find_cycle({n: nodes[n] for n in nodes if n not in order})
        raise CycleError(
            "The steps depend on each other in a cycle: "
            + " -> ".join(cycle)
            + ". "
            + "; ".join(
                f"{b} needs {a} ({', '.join(nodes[b].reasons[a])})"
                for a, b in zip(cycle, cycle[1:], strict=False)
            )
            + ".",
            cycle,
        )
    return order


def _find_cycle(nodes: dict[str, StepNode]) -> list[str]:
    """One cycle among ``nodes`` (each has an upstream among them), as a -> b -> ... -> a."""
    start = next(iter(nodes))
    path: list[str] = []
    index: dict[str, int] = {}
    current = start
    while current not in index:
        index[current] = len(path)
        path.append(current)
        current = next(up for up in nodes[current].upstream if up in nodes)
    # path follows "depends on" links; reverse so arrows read producer -> consumer
    cycle = path[index[current] :] + [current]
    return list(reversed(cycle))
