"""Step cache: keys follow code, parameters, inputs and local module sources."""

from __future__ import annotations

from jupyter_mlops.pipeline.cache import StepCache, local_module_files, step_key


def key(tmp_path, **overrides):
    args = dict(
        step="s",
        code="x = helpers.f()",
        prelude="import helpers",
        parameters={"n": 1},
        inputs={"data": "abc"},
        outputs=["x"],
        kernel="python3",
        module_files=local_module_files(["helpers"], [tmp_path]),
        root=tmp_path,
    )
    args.update(overrides)
    return step_key(**args)


def test_local_modules_followed_through_imports(tmp_path):
    (tmp_path / "helpers.py").write_text("from pkg.util import g\nimport numpy\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "util.py").write_text("from . import deep\ndef g(): return 1\n")
    (tmp_path / "pkg" / "deep.py").write_text("X = 1\n")
    files = local_module_files(["helpers"], [tmp_path])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "helpers.py",
        "pkg/__init__.py",
        "pkg/deep.py",
        "pkg/util.py",
    ]


def test_key_changes_with_each_ingredient(tmp_path):
    (tmp_path / "helpers.py").write_text("def f(): return 1\n")
    base = key(tmp_path)
    assert key(tmp_path) == base
    assert key(tmp_path, code="x = helpers.f() + 1") != base
    assert key(tmp_path, prelude="import helpers, os") != base
    assert key(tmp_path, parameters={"n": 2}) != base
    assert key(tmp_path, inputs={"data": "abd"}) != base
    assert key(tmp_path, outputs=["x", "y"]) != base
    (tmp_path / "helpers.py").write_text("def f(): return 2\n")
    assert key(tmp_path) != base


def test_commit_and_lookup(tmp_path):
    cache = StepCache(tmp_path / "cache")
    assert cache.lookup("k") is None
    staging = cache.staging("k")
    (staging / "x.pkl").write_bytes(b"data")
    (staging / "outputs.json").write_text(
        '{"step": "s", "outputs": {"x": {"format": "pickle", "file": "x.pkl", "hash": "h"}}}'
    )
    cache.commit("k", staging, {"run_id": "r1", "step": "s"})
    meta = cache.lookup("k")
    assert meta["run_id"] == "r1" and meta["manifest"]["outputs"]["x"]["hash"] == "h"
    (cache.entry("k") / "x.pkl").unlink()
    assert cache.lookup("k") is None  # an incomplete entry is never a hit
