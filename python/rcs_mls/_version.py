"""Versions: this package's (one source: Cargo.toml) and those of the libraries it is built on."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _distribution_version

from rcs_mls import _native

__all__ = ["Versions", "package_version", "versions"]

DISTRIBUTION = "rcs-mls"


def package_version() -> str:
    """The installed distribution's version (maturin takes it from Cargo.toml).

    Falls back to the native crate's own version when no distribution metadata is found
    (for instance when the package is imported from a source tree without being installed).
    """
    try:
        return _distribution_version(DISTRIBUTION)
    except PackageNotFoundError:
        return _native.VERSION


@dataclass(frozen=True, slots=True)
class Versions:
    """What :func:`versions` returns."""

    rcs_mls: str
    """The package (``rcs_mls.__version__``)."""
    native: str
    """The native extension's crate version, compiled into it (Cargo.toml's)."""
    openmls: str
    """The OpenMLS release the native core is built on."""
    aws_lc_rs: str
    """The aws-lc-rs release behind the crypto provider (AWS-LC)."""

    def __str__(self) -> str:
        return (
            f"rcs-mls {self.rcs_mls} (native {self.native}), OpenMLS {self.openmls}, "
            f"aws-lc-rs {self.aws_lc_rs}"
        )


def versions() -> Versions:
    """The versions of this package and of the Rust libraries compiled into it."""
    return Versions(
        rcs_mls=package_version(),
        native=_native.VERSION,
        openmls=_native.OPENMLS_VERSION,
        aws_lc_rs=_native.AWS_LC_RS_VERSION,
    )
