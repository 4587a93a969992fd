"""The wheel checker (.ci/check_wheel.py): its ELF reader, its limits, its tag checks."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from rcs_mls import _native

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "check_wheel.py"
EXTENSION = Path(_native.__file__ or "")


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_wheel", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_wheel"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


cw = _load()

GOOD_TAGS = ("cp311-abi3-manylinux_2_17_x86_64", "cp311-abi3-manylinux2014_x86_64")
GOOD_NAME = "rcs_mls-0.1.0-cp311-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"


def _objdump_versions(path: Path) -> dict[str, set[str]]:
    """objdump -p's "Version References", for comparison."""
    objdump = shutil.which("objdump")
    if objdump is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI: objdump (binutils) is needed to check the ELF reader")
        pytest.skip("objdump (binutils) not installed")
    out = subprocess.run([objdump, "-p", str(path)], capture_output=True, text=True, check=True)
    refs: dict[str, set[str]] = {}
    library = ""
    section = out.stdout.split("Version References:", 1)[1]
    for line in section.splitlines()[1:]:
        if m := re.match(r"\s+required from (\S+):", line):
            library = m.group(1)
        elif m := re.match(r"\s+0x[0-9a-f]+ 0x[0-9a-f]+ \d+ (\S+)", line):
            refs.setdefault(library, set()).add(m.group(1))
        elif line.strip():
            break
    return refs


def test_elf_reader_matches_objdump() -> None:
    reqs = cw.elf_requirements(EXTENSION.read_bytes())
    assert reqs.versions == _objdump_versions(EXTENSION)
    assert "libc.so.6" in reqs.needed
    assert "GLIBC" in cw.max_versions(reqs)


def test_elf_reader_rejects_non_elf() -> None:
    with pytest.raises(cw.CheckError):
        cw.elf_requirements(b"MZ not an ELF file")


def test_requirement_limits() -> None:
    ok = cw.ElfRequirements(
        needed=["libc.so.6", "libm.so.6"],
        versions={"libc.so.6": {"GLIBC_2.2.5", "GLIBC_2.14", "GLIBC_2.17"}},
    )
    assert cw.max_versions(ok) == {"GLIBC": (2, 17)}
    assert cw.requirement_problems(ok) == []

    newer = cw.ElfRequirements(
        needed=["libc.so.6"], versions={"libc.so.6": {"GLIBC_2.17", "GLIBC_2.28"}}
    )
    assert cw.requirement_problems(newer) == [
        "needs GLIBC_2.28, newer than manylinux2014's GLIBC_2.17"
    ]
    cxx = cw.ElfRequirements(
        needed=["libc.so.6", "libstdc++.so.6"],
        versions={"libc.so.6": {"GLIBC_2.17"}, "libstdc++.so.6": {"GLIBCXX_3.4.21"}},
    )
    assert cw.requirement_problems(cxx) == [
        "needs GLIBCXX_3.4.21, newer than manylinux2014's GLIBCXX_3.4.19"
    ]
    foreign = cw.ElfRequirements(
        needed=["libc.so.6", "libssl.so.3"], versions={"libc.so.6": {"GLIBC_2.17"}}
    )
    assert cw.requirement_problems(foreign) == [
        "links to libraries outside manylinux2014: ['libssl.so.3']"
    ]


def _wheel(directory: Path, name: str, tags: tuple[str, ...], so: bytes) -> Path:
    path = directory / name
    with zipfile.ZipFile(path, "w") as zf:
        wheel = "Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"
        wheel += "".join(f"Tag: {t}\n" for t in tags)
        zf.writestr("rcs_mls-0.1.0.dist-info/WHEEL", wheel)
        zf.writestr("rcs_mls/_native.abi3.so", so)
    return path


def test_wheel_tags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    so = EXTENSION.read_bytes()
    # whatever this (host-built) extension needs, the tags are judged on their own
    good = cw.check_wheel(_wheel(tmp_path, GOOD_NAME, GOOD_TAGS, so))
    assert not [p for p in good if "tags" in p]
    assert "max GLIBC symbol version" in capsys.readouterr().out

    linux = cw.check_wheel(
        _wheel(
            tmp_path,
            "rcs_mls-0.1.0-cp311-abi3-linux_x86_64.whl",
            ("cp311-abi3-linux_x86_64",),
            so,
        )
    )
    assert any("file name tags" in p for p in linux)
    assert any("WHEEL tags" in p for p in linux)

    not_abi3 = cw.check_wheel(
        _wheel(
            tmp_path,
            "rcs_mls-0.1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
            ("cp311-cp311-manylinux_2_17_x86_64",),
            so,
        )
    )
    assert any("file name tags" in p for p in not_abi3)

    newer = cw.check_wheel(
        _wheel(
            tmp_path,
            "rcs_mls-0.1.0-cp311-abi3-manylinux_2_28_x86_64.whl",
            ("cp311-abi3-manylinux_2_28_x86_64",),
            so,
        )
    )
    assert any("manylinux_2_28" in p for p in newer)


def test_main_needs_one_wheel(tmp_path: Path) -> None:
    assert cw.main(["check_wheel", str(tmp_path)]) == 1
