"""Notebook parameters on the command line, as papermill takes them.

- ``-p NAME VALUE`` (papermill's syntax) or ``-p NAME=VALUE``: the value is read by the
  parameter rule (a Python literal when it is one, else text; see ``tracking/run.py``);
- ``-r NAME VALUE``: the value as text, always;
- ``-f params.yaml``: a YAML file of parameters; ``-y YAML``: YAML text; ``-b BASE64``: YAML
  text in base64.

Later sources override earlier ones in papermill's order: ``-b``, ``-f``, ``-y``, ``-p``,
``-r``. One name given twice with ``-p`` with two different values is an error.
"""

from __future__ import annotations

import argparse
import base64
import binascii
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..exceptions import InvalidParameterError

PARAM_FLAGS = ("-p", "--param", "--parameters")


def add_parameter_options(parser: argparse.ArgumentParser) -> None:
    """Add papermill's parameter options to ``parser`` (a command that runs notebooks)."""
    parser.add_argument(
        *PARAM_FLAGS,
        dest="param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter, also as papermill's -p NAME VALUE (value read as a Python "
        "literal when it is one, else text)",
    )
    parser.add_argument(
        "-r",
        "--parameters-raw",
        "--parameters_raw",
        dest="param_raw",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a parameter whose value is text as typed",
    )
    parser.add_argument(
        "-f",
        "--parameters-file",
        "--parameters_file",
        dest="param_file",
        action="append",
        default=[],
        metavar="FILE.yaml",
        help="parameters from a YAML file",
    )
    parser.add_argument(
        "-y",
        "--parameters-yaml",
        "--parameters_yaml",
        dest="param_yaml",
        action="append",
        default=[],
        metavar="YAML",
        help="parameters as YAML text",
    )
    parser.add_argument(
        "-b",
        "--parameters-base64",
        "--parameters_base64",
        dest="param_base64",
        action="append",
        default=[],
        metavar="BASE64",
        help="parameters as base64-encoded YAML text",
    )
    parser.add_argument(
        "--allow-unknown-params",
        action="store_true",
        help="inject parameters the notebook's parameters cell does not define (papermill's "
        "behaviour); the run records them as unchecked",
    )


def join_param_pairs(argv: Sequence[str]) -> list[str]:
    """papermill's ``-p NAME VALUE`` as ``-p NAME=VALUE``, so both spellings parse.

    A ``-p`` whose next word has no ``=`` takes the word after it as the value: a name
    cannot contain ``=``, so ``-p lr=0.1`` is one word and ``-p lr 0.1`` two.
    """
    out: list[str] = []
    words = list(argv)
    i = 0
    while i < len(words):
        word = words[i]
        out.append(word)
        if word == "--":
            out.extend(words[i + 1 :])
            break
        if word in PARAM_FLAGS and i + 2 < len(words) and "=" not in words[i + 1]:
            out.append(f"{words[i + 1]}={words[i + 2]}")
            i += 3
            continue
        i += 1
    return out


def collect_parameters(args: argparse.Namespace) -> dict[str, Any]:
    """The parameters the options of :func:`add_parameter_options` give, merged."""
    from ..tracking.notebook import parse_parameter

    merged: dict[str, Any] = {}
    for text in args.param_base64:
        try:
            decoded = base64.b64decode(text, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidParameterError(f"-b {text[:40]!r} is not base64 text.") from None
        merged.update(_yaml_mapping(decoded, "-b"))
    for name in args.param_file:
        path = Path(name)
        if not path.is_file():
            raise InvalidParameterError(f"Parameters file {name!r} does not exist.")
        merged.update(_yaml_mapping(path.read_text(encoding="utf-8"), f"-f {name}"))
    for text in args.param_yaml:
        merged.update(_yaml_mapping(text, "-y"))
    given: dict[str, Any] = {}
    for text in args.param:
        key, value = parse_parameter(text)
        if key in given and given[key] != value:
            raise InvalidParameterError(
                f"Parameter {key} is given twice ({given[key]!r} and {value!r})."
            )
        given[key] = value
    merged.update(given)
    for key, value in args.param_raw:
        name, _ = parse_parameter(f"{key}=")  # the name must be an identifier
        merged[name] = value
    return merged


def _yaml_mapping(text: str, where: str) -> dict[str, Any]:
    import yaml

    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidParameterError(f"{where}: not valid YAML: {exc}".splitlines()[0]) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict) or not all(isinstance(k, str) for k in loaded):
        raise InvalidParameterError(
            f"{where}: parameters must be a YAML mapping of names to values, got "
            f"{type(loaded).__name__}."
        )
    for key in loaded:
        if not key.isidentifier():
            raise InvalidParameterError(f"{where}: parameter name {key!r} is not an identifier.")
    return loaded
