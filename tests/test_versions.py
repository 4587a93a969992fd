"""One source for the package version (Cargo.toml), and the OpenMLS release it reports."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

import rcs_mls
from rcs_mls import _native
from rcs_mls.__main__ import main

ROOT = Path(__file__).resolve().parent.parent


def _toml(name: str) -> dict[str, Any]:
    with (ROOT / name).open("rb") as f:
        return tomllib.load(f)


def _locked(name: str) -> list[str]:
    return [p["version"] for p in _toml("Cargo.lock")["package"] if p["name"] == name]


def test_version_comes_from_cargo_toml() -> None:
    cargo_version = _toml("Cargo.toml")["package"]["version"]
    assert rcs_mls.__version__ == version("rcs-mls") == cargo_version
    assert cargo_version == _native.VERSION
    assert rcs_mls.versions().rcs_mls == rcs_mls.versions().native == cargo_version
    # pyproject.toml has no version of its own to drift
    project = _toml("pyproject.toml")["project"]
    assert "version" not in project
    assert project["dynamic"] == ["version"]


def test_openmls_version_matches_cargo_lock() -> None:
    assert _locked("openmls") == [rcs_mls.OPENMLS_VERSION]
    assert rcs_mls.versions().openmls == rcs_mls.OPENMLS_VERSION
    pin = _toml("Cargo.toml")["dependencies"]["openmls"]["version"]
    assert pin == f"={rcs_mls.OPENMLS_VERSION}"


def test_aws_lc_rs_version_matches_cargo_lock() -> None:
    assert _locked("aws-lc-rs") == [rcs_mls.versions().aws_lc_rs]


def test_versions_object() -> None:
    v = rcs_mls.versions()
    assert isinstance(v, rcs_mls.Versions)
    for field in (v.rcs_mls, v.native, v.openmls, v.aws_lc_rs):
        assert re.fullmatch(r"\d+\.\d+\.\d+\S*", field), field
    assert str(v) == (
        f"rcs-mls {v.rcs_mls} (native {v.native}), OpenMLS {v.openmls}, aws-lc-rs {v.aws_lc_rs}"
    )
    assert "__version__" in rcs_mls.__all__
    assert "versions" in rcs_mls.__all__


def test_command_line_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == str(rcs_mls.versions())
