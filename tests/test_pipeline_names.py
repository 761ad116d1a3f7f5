"""Static analysis of step code: names read before being defined, defined, changed."""

from __future__ import annotations

import pytest

from jupyter_mlops.exceptions import PipelineError
from jupyter_mlops.pipeline.names import analyze, python_source


def test_reads_in_execution_order():
    names = analyze("y = x + 1\nx = 2\nz = x + y\nw = w * 2\nprint(len(y))")
    assert names.reads == ["x", "w"]  # x read before its own assignment; builtins ignored
    assert names.defines == {"x", "y", "z", "w"}


def test_nested_scopes_read_globals():
    code = (
        "def f(a):\n    return a + scale + helper(a)\n"
        "g = lambda b: b * factor\n"
        "values = [v * weight for v in items]\n"
        "class Model:\n    size = base\n"
        "def helper(a):\n    return a\n"
    )
    names = analyze(code)
    assert set(names.reads) == {"scale", "factor", "weight", "items", "base"}
    assert {"f", "g", "values", "Model", "helper"} <= names.defines
    assert names.functions["f"] == {"scale", "helper"}


def test_changes_and_imports():
    names = analyze(
        "model.fit(X, y)\ndf['a'] = 1\nobj.attr.x = 2\n"
        "import os.path\nfrom mypkg.sub import thing\n"
    )
    assert names.changes >= {"model", "df", "obj"}
    assert {"os.path", "mypkg.sub", "mypkg.sub.thing"} <= names.imports
    assert {"os", "thing"} <= names.defines


def test_control_flow_and_targets():
    names = analyze(
        "for i in data:\n    total = total + i\n"
        "with open(path) as fh:\n    text = fh.read()\n"
        "try:\n    pass\nexcept ValueError as err:\n    print(err)\n"
        "if (n := count) > 0:\n    print(n)\n"
    )
    assert names.reads == ["data", "total", "path", "count"]
    assert {"i", "fh", "text", "err", "n"} <= names.defines


def test_global_declaration_defines():
    names = analyze("def setup():\n    global cfg\n    cfg = 1\nsetup()")
    assert "cfg" in names.defines and "cfg" not in names.reads


def test_ipython_syntax_is_neutralised():
    source = "%matplotlib inline\nfiles = !ls\n!pip list\nx = data?\ny = files\n"
    assert "files = None" in python_source(source)
    names = analyze(source)
    assert names.reads == []  # the magics read nothing; `data?` is help, not a read
    assert analyze("%%bash\necho $x").reads == []
    assert analyze("%%time\nz = w").reads == ["w"]


def test_syntax_error_names_the_code():
    with pytest.raises(PipelineError, match="step 'a' has a syntax error on line 2"):
        analyze("x = 1\nx = = 2", "step 'a'")
