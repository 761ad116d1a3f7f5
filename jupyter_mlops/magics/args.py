"""Argument parsing for magics: argparse that reports errors as IPython UsageErrors."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from typing import Any, NoReturn

from IPython.core.error import UsageError


class MagicArgumentParser(argparse.ArgumentParser):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(add_help=False, allow_abbrev=False, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}\n\n{self.format_usage().strip()}")

    def parse_line(self, line: str) -> argparse.Namespace:
        try:
            words = shlex.split(line)
        except ValueError as exc:
            self.error(f"cannot split arguments: {exc}")
        return self.parse_args(words)


def parse_key_values(
    pairs: list[str] | None, what: str = "--param", parse: Callable[[str], Any] | None = None
) -> dict[str, Any]:
    """``["lr=0.1", "name=a b"]`` -> dict; a pair without ``=`` or with an empty key fails.

    ``parse`` turns each value text into the value (params: ``parse_param_value``); without
    it values stay text (tags).
    """
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{what} expects KEY=VALUE, got {pair!r}.")
        key = key.strip()
        value = parse(text) if parse is not None else text
        if key in out and out[key] != value:
            # Which one would the run record? Params are immutable: refuse, don't guess.
            raise UsageError(f"{what} {key} is given twice ({out[key]!r} and {value!r}).")
        out[key] = value
    return out


def single_value(text: str, what: str) -> str:
    """The one value of a line magic: ``my exp`` as typed, or ``"my exp"`` / ``'my exp'``
    without its quotes (as %%track --experiment "my exp" reads it), not with them."""
    text = text.strip()
    if not text or text[0] not in "'\"":
        return text
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"{what}: cannot split {text!r}: {exc}") from None
    if len(words) != 1:
        raise UsageError(f"{what} takes one value; quote it as a whole, got {text!r}.")
    return words[0]
