#!/usr/bin/env python3
"""Check the built distributions in dist/: the Linux wheel is what manylinux2014 promises.

    python .ci/check_wheel.py [DIST_DIR]        (default: dist)

For the wheel (exactly one ``*.whl`` expected) it prints the tags of its file name and of its
WHEEL file, the shared libraries its extension links to, the highest symbol version it needs
from each versioned library (GLIBC, GLIBCXX, CXXABI, GCC; read from the ELF's
``.gnu.version_r`` section, no tool needed), and its size in MiB. It fails (exit status 1)
when the tags are not cp311-abi3-manylinux_2_17_x86_64 (alias manylinux2014_x86_64), when a
symbol version is newer than manylinux2014 allows (GLIBC 2.17, GLIBCXX 3.4.19, CXXABI 1.3.7,
GCC 4.8.0), or when the extension links to a library outside manylinux2014's list.

When an sdist (``*.tar.gz``) is there too, it checks that it carries what a build from source
needs: Cargo.toml and Cargo.lock, the Rust sources, the Python package with its stubs and
``py.typed``, pyproject.toml and the README.
"""

from __future__ import annotations

import struct
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

PYTHON_TAG = "cp311"
ABI_TAG = "abi3"
PLATFORM_TAGS = {"manylinux_2_17_x86_64", "manylinux2014_x86_64"}

# manylinux2014's limits (PEP 599): the newest symbol version of each library a wheel may need.
MAX_SYMBOL_VERSIONS = {
    "GLIBC": (2, 17),
    "GLIBCXX": (3, 4, 19),
    "CXXABI": (1, 3, 7),
    "GCC": (4, 8, 0),
}
# ...and the only libraries its extensions may link to (the graphics ones left out: not needed).
ALLOWED_LIBRARIES = {
    "libgcc_s.so.1",
    "libstdc++.so.6",
    "libm.so.6",
    "libdl.so.2",
    "librt.so.1",
    "libc.so.6",
    "libnsl.so.1",
    "libutil.so.1",
    "libpthread.so.0",
    "libresolv.so.2",
    "libcrypt.so.1",
    "ld-linux-x86-64.so.2",
}

SDIST_REQUIRED = [
    "Cargo.toml",
    "Cargo.lock",
    "pyproject.toml",
    "README.md",
    "rust/src/lib.rs",
    "python/rcs_mls/__init__.py",
    "python/rcs_mls/_native.pyi",
    "python/rcs_mls/py.typed",
]

SHT_DYNAMIC = 6
SHT_GNU_VERNEED = 0x6FFFFFFE
DT_NULL = 0
DT_NEEDED = 1


class CheckError(Exception):
    """The distribution breaks a rule."""


@dataclass
class ElfRequirements:
    """What a shared object asks of the dynamic linker."""

    needed: list[str] = field(default_factory=list)
    # library file -> symbol versions needed from it (e.g. "libc.so.6" -> {"GLIBC_2.14"})
    versions: dict[str, set[str]] = field(default_factory=dict)


def _cstring(data: bytes, offset: int) -> str:
    end = data.index(b"\0", offset)
    return data[offset:end].decode("ascii")


def elf_requirements(data: bytes) -> ElfRequirements:
    """DT_NEEDED entries and versioned symbol requirements of a 64-bit little-endian ELF."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise CheckError("not a 64-bit little-endian ELF file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = []
    for i in range(shnum):
        # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info, ...
        _, sh_type, _, _, sh_offset, sh_size, sh_link, sh_info = struct.unpack_from(
            "<IIQQQQII", data, shoff + i * shentsize
        )
        sections.append((sh_type, sh_offset, sh_size, sh_link, sh_info))

    def strtab(index: int) -> bytes:
        _, offset, size, _, _ = sections[index]
        return data[offset : offset + size]

    reqs = ElfRequirements()
    for sh_type, offset, size, link, info in sections:
        if sh_type == SHT_DYNAMIC:
            names = strtab(link)
            for pos in range(offset, offset + size, 16):
                tag, value = struct.unpack_from("<qQ", data, pos)
                if tag == DT_NULL:
                    break
                if tag == DT_NEEDED:
                    reqs.needed.append(_cstring(names, value))
        elif sh_type == SHT_GNU_VERNEED:
            names = strtab(link)
            pos = offset
            for _ in range(info):  # sh_info: the number of Verneed entries
                _, cnt, file_off, aux, next_off = struct.unpack_from("<HHIII", data, pos)
                library = _cstring(names, file_off)
                apos = pos + aux
                for _ in range(cnt):
                    _, _, _, name_off, anext = struct.unpack_from("<IHHII", data, apos)
                    reqs.versions.setdefault(library, set()).add(_cstring(names, name_off))
                    apos += anext
                pos += next_off
    return reqs


def _parse_version(name: str) -> tuple[str, tuple[int, ...]] | None:
    """``"GLIBC_2.14"`` -> ``("GLIBC", (2, 14))``; None for names that are not of that form."""
    prefix, _, number = name.partition("_")
    parts = number.split(".")
    if not prefix or not all(p.isdigit() for p in parts):
        return None
    return prefix, tuple(int(p) for p in parts)


def max_versions(reqs: ElfRequirements) -> dict[str, tuple[int, ...]]:
    """The highest version needed of each versioned symbol family (GLIBC, GCC, ...)."""
    highest: dict[str, tuple[int, ...]] = {}
    for names in reqs.versions.values():
        for name in names:
            parsed = _parse_version(name)
            if parsed is None:
                continue
            prefix, version = parsed
            if version > highest.get(prefix, ()):
                highest[prefix] = version
    return highest


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def check_wheel(path: Path) -> list[str]:
    """Print the wheel's facts; return the problems found."""
    problems: list[str] = []
    print(f"wheel: {path.name}")
    print(f"  size: {path.stat().st_size / 2**20:.2f} MiB")

    # name-version-python-abi-platform(.platform...).whl
    parts = path.name[: -len(".whl")].split("-")
    if len(parts) != 5:
        return [*problems, f"unexpected wheel file name {path.name}"]
    _, _, python_tag, abi_tag, platforms = parts
    name_tags = {(python_tag, abi_tag, p) for p in platforms.split(".")}
    print(f"  file name tags: {python_tag}-{abi_tag}-{platforms}")

    with zipfile.ZipFile(path) as zf:
        wheel_files = [n for n in zf.namelist() if n.endswith(".dist-info/WHEEL")]
        if len(wheel_files) != 1:
            return [*problems, f"expected one .dist-info/WHEEL, found {wheel_files}"]
        meta = zf.read(wheel_files[0]).decode("utf-8")
        wheel_tags = set()
        for line in meta.splitlines():
            key, _, value = line.partition(": ")
            if key == "Tag":
                py, abi, plat = value.strip().split("-")
                wheel_tags.add((py, abi, plat))
            elif key == "Root-Is-Purelib" and value.strip() != "false":
                problems.append("Root-Is-Purelib is not false")
        print(f"  WHEEL tags: {', '.join('-'.join(t) for t in sorted(wheel_tags))}")
        extensions = [n for n in zf.namelist() if n.endswith(".so")]
        print(f"  extensions: {', '.join(extensions) or 'none'}")
        if extensions != ["rcs_mls/_native.abi3.so"]:
            problems.append(f"expected the one extension rcs_mls/_native.abi3.so: {extensions}")
        elf = [zf.read(n) for n in extensions]

    for where, tags in (("file name", name_tags), ("WHEEL", wheel_tags)):
        expected = {(PYTHON_TAG, ABI_TAG, p) for p in PLATFORM_TAGS}
        if not tags or not tags <= expected:
            problems.append(
                f"{where} tags {sorted(tags)} are not {PYTHON_TAG}-{ABI_TAG}-"
                f"manylinux_2_17_x86_64 / manylinux2014_x86_64"
            )
    if name_tags != wheel_tags:
        problems.append("the file name's tags differ from the WHEEL file's")

    for data in elf:
        try:
            reqs = elf_requirements(data)
        except (CheckError, struct.error, ValueError, IndexError) as e:
            problems.append(f"cannot read the extension's ELF headers: {e}")
            continue
        print(f"  needed libraries: {', '.join(reqs.needed) or 'none'}")
        for prefix, version in sorted(max_versions(reqs).items()):
            print(f"  max {prefix} symbol version: {_dotted(version)}")
        for library, names in sorted(reqs.versions.items()):
            print(f"    {library}: {' '.join(sorted(names, key=_sort_key))}")
        problems += requirement_problems(reqs)
    return problems


def requirement_problems(reqs: ElfRequirements) -> list[str]:
    """What an extension needs that manylinux2014 does not promise."""
    problems = []
    outside = sorted(set(reqs.needed) - ALLOWED_LIBRARIES)
    if outside:
        problems.append(f"links to libraries outside manylinux2014: {outside}")
    highest = max_versions(reqs)
    for prefix, version in sorted(highest.items()):
        limit = MAX_SYMBOL_VERSIONS.get(prefix)
        if limit is not None and version > limit:
            problems.append(
                f"needs {prefix}_{_dotted(version)}, newer than manylinux2014's "
                f"{prefix}_{_dotted(limit)}"
            )
    if "GLIBC" not in highest:
        problems.append("found no GLIBC symbol version requirement: not a glibc build?")
    return problems


def _sort_key(name: str) -> tuple[str, tuple[int, ...]]:
    return _parse_version(name) or (name, ())


def check_sdist(path: Path) -> list[str]:
    """Print the sdist's facts; return the problems found."""
    print(f"sdist: {path.name}")
    print(f"  size: {path.stat().st_size / 2**20:.2f} MiB")
    with tarfile.open(path) as tf:
        names = tf.getnames()
    top = path.name[: -len(".tar.gz")]
    inside = {n.removeprefix(f"{top}/") for n in names}
    print(f"  files: {len(inside)}")
    missing = [n for n in SDIST_REQUIRED if n not in inside]
    return [f"the sdist lacks {n}" for n in missing]


def main(argv: list[str]) -> int:
    dist = Path(argv[1] if len(argv) > 1 else "dist")
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1:
        print(f"check_wheel: expected one wheel in {dist}/, found {len(wheels)}", file=sys.stderr)
        return 1
    problems = check_wheel(wheels[0])
    for sdist in sdists:
        problems += check_sdist(sdist)
    for problem in problems:
        print(f"check_wheel: FAIL: {problem}", file=sys.stderr)
    if problems:
        return 1
    print("check_wheel: OK (manylinux2014 x86_64 abi3)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
