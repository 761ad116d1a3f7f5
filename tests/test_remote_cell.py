"""The version check both sides must pass before anything moves."""

from __future__ import annotations

import pytest

from jupyter_mlops.exceptions import RemoteVersionError
from jupyter_mlops.remote.cell import check_versions, local_versions


def test_same_versions_pass() -> None:
    check_versions("local", local_versions())


def test_python_minor_and_cloudpickle_mismatches_are_named() -> None:
    here = local_versions()
    major, minor = here["python"].split(".")[:2]
    there = dict(here, python=f"{major}.{int(minor) + 1}.0", cloudpickle="1.0", host="gpu-box")
    with pytest.raises(RemoteVersionError) as info:
        check_versions("gpu", there, "the remote kernel")
    message = str(info.value)
    assert message.startswith("Target 'gpu': the remote kernel (")
    assert f"Python {major}.{int(minor) + 1}.0 there, {here['python']} here" in message
    assert f"cloudpickle 1.0 there, {here['cloudpickle']} here" in message
    assert "gpu-box" in message


def test_a_patch_release_difference_is_fine_a_missing_cloudpickle_is_not() -> None:
    here = local_versions()
    major, minor = here["python"].split(".")[:2]
    check_versions("local", dict(here, python=f"{major}.{minor}.99"))
    with pytest.raises(RemoteVersionError, match="cloudpickle is not installed there"):
        check_versions("local", dict(here, cloudpickle=None))
