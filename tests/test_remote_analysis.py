"""Which names a remote cell reads and assigns (static analysis), and --in/--out."""

from __future__ import annotations

import pytest

from jupyter_mlops.exceptions import RemoteError
from jupyter_mlops.remote.analysis import inputs_for, outputs_for, scan, split_names


def test_reads_and_top_level_bindings() -> None:
    names = scan(
        "import numpy as np, os.path\n"
        "from math import sqrt as root\n"
        "x = y + 1\n"
        "for i in range(3):\n"
        "    z = i\n"
        "def f(a, b=w):\n"
        "    local_only = a + q\n"
        "    return local_only\n"
        "class C(Base):\n"
        "    attr = 1\n"
        "squares = [t * t for t in s if (kept := t)]\n"
        "with open(p) as fh:\n"
        "    pass\n"
        "n += 1\n"
    )
    expected = ["np", "os", "root", "x", "i", "z", "f", "C", "squares", "kept", "fh", "n"]
    assert names.writes == expected
    assert {"y", "w", "q", "Base", "s", "p", "n", "range"} <= names.reads
    assert not {"local_only", "attr", "t"} & set(names.writes)


def test_global_statement_in_a_function_is_an_output() -> None:
    assert "counter" in scan("def bump():\n    global counter\n    counter = 1\nbump()").writes


def test_inputs_are_reads_that_exist_locally_without_builtins_and_private_names() -> None:
    namespace = {"df": 1, "model": 2, "_hidden": 3, "In": [], "unused": 4, "print": print}
    names = scan("print(df, model, _hidden, In, missing, len(df))")
    assert inputs_for(names, namespace) == ["df", "model"]


def test_a_shadowed_builtin_is_shipped() -> None:
    namespace = {"len": lambda x: 42}
    assert inputs_for(scan("len([])"), namespace) == ["len"]


def test_explicit_in_and_out_override() -> None:
    names = scan("b = a * 2\nc = b + 1")
    assert inputs_for(names, {"a": 1, "z": 2}, ["z"]) == ["z"]
    assert outputs_for(names, ["c"]) == ["c"]
    assert outputs_for(names) == ["b", "c"]
    with pytest.raises(RemoteError, match="not defined locally"):
        inputs_for(names, {"a": 1}, ["nope"])


def test_split_names() -> None:
    assert split_names("a, b c", "--in") == ["a", "b", "c"]
    assert split_names(None, "--in") is None
    with pytest.raises(RemoteError, match="--out expects variable names"):
        split_names("a,1b", "--out")


def test_syntax_error_propagates() -> None:
    with pytest.raises(SyntaxError):
        scan("x = (")
