#!/usr/bin/env bash
# Smoke-test the distributions in dist/ as a user gets them.
#
#   bash .ci/wheel_smoke.sh            the wheel only
#   bash .ci/wheel_smoke.sh --sdist    the wheel, then the sdist
#
# The wheel: a fresh venv, a PATH with no Rust toolchain on it (`command -v cargo` must fail),
# `pip install` of the wheel with its [test] extra, `python -m rcs_mls demo`, then the test
# suite run against the INSTALLED package (less what needs cargo or, when none is set up,
# PostgreSQL): the tests are copied to a temporary folder without python/ beside them, and a
# guard test checks that rcs_mls and its native extension are imported from site-packages.
#
# The sdist: another fresh venv, `pip install` of the sdist (this builds it: cargo needed,
# PATH as given), then an import, the versions and a one-message MLS round trip.
#
# Set CARGO_TARGET_DIR to let the sdist build reuse compiled dependencies (CI points it at
# the checkout's target/, which the Quick start install filled); left unset, it builds from
# nothing. The RFC 9420 vectors come from $RCS_MLS_TEST_VECTORS, else ../shared beside the
# checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

with_sdist=0
for arg in "$@"; do
    case "$arg" in
        --sdist) with_sdist=1 ;;
        *) echo "wheel_smoke: unknown argument $arg" >&2; exit 2 ;;
    esac
done

python="${PYTHON:-python3}"
shopt -s nullglob
wheels=(dist/*.whl)
sdists=(dist/*.tar.gz)
shopt -u nullglob
if [ "${#wheels[@]}" -ne 1 ]; then
    echo "wheel_smoke: expected one wheel in dist/, found ${#wheels[@]} (run make wheels)" >&2
    exit 1
fi
wheel="$root/${wheels[0]}"

vectors="${RCS_MLS_TEST_VECTORS:-$root/../shared/mls-test-vectors}"
if [ ! -d "$vectors" ]; then
    echo "wheel_smoke: the RFC 9420 test vectors are not at $vectors" >&2
    exit 1
fi
export RCS_MLS_TEST_VECTORS="$(cd "$vectors" && pwd)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- the wheel, without a Rust toolchain ---------------------------------------------------
# PATH without cargo, rustc, rustup (any entry naming them) ...
clean_path=""
IFS=: read -r -a entries <<< "$PATH"
for entry in "${entries[@]}"; do
    case "$entry" in
        *cargo* | *rustc* | *rustup*) continue ;;
    esac
    clean_path="${clean_path:+$clean_path:}$entry"
done

python_bin="$(command -v "$python")"
PATH="$clean_path" "$python_bin" -m venv "$work/venv-wheel"
venv="$work/venv-wheel"

run_clean() {
    # a command in the wheel's venv, with no Rust toolchain reachable
    env -u CARGO_HOME -u RUSTUP_HOME -u RUSTUP_TOOLCHAIN PATH="$venv/bin:$clean_path" "$@"
}

for tool in cargo rustc rustup; do
    if run_clean bash -c "command -v $tool" >/dev/null; then
        echo "wheel_smoke: $tool is still on the cleaned PATH: $(run_clean bash -c "command -v $tool")" >&2
        exit 1
    fi
done
echo "wheel_smoke: no cargo, rustc or rustup on PATH"

echo "wheel_smoke: installing $(basename "$wheel")"
run_clean pip install --quiet --only-binary rcs-mls "$wheel[test]"

site="$(run_clean python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mkdir -p "$work/suite"
cd "$work/suite"
run_clean python - "$site" <<'EOF'
import sys
from importlib.metadata import version
from pathlib import Path

import rcs_mls
from rcs_mls import _native

site = Path(sys.argv[1]).resolve()
for module in (rcs_mls, _native):
    where = Path(module.__file__ or "").resolve()
    assert where.is_relative_to(site), f"{module.__name__} imported from {where}, not {site}"
assert rcs_mls.__version__ == version("rcs-mls")
print(f"wheel_smoke: {rcs_mls.versions()}")
print(f"wheel_smoke: imported from {Path(_native.__file__ or '').resolve()}")
EOF

echo "wheel_smoke: python -m rcs_mls demo"
run_clean python -m rcs_mls demo --file-size 1 > "$work/demo.txt"
tail -n 3 "$work/demo.txt"
grep -q "no content in clear" "$work/demo.txt"

# The test suite, away from the checkout's python/ (and from the checkout itself); the
# config, README and Cargo files come along for the tests that read them, and benches/ (pure
# Python) for the RCS tests that reuse its inputs.
tar -C "$root" --exclude=target --exclude=__pycache__ -cf - tests benches \
    | tar -C "$work/suite" -xf -
cp "$root/pyproject.toml" "$root/README.md" "$root/Cargo.toml" "$root/Cargo.lock" "$work/suite/"
mkdir -p "$work/suite/.ci"
cp "$root/.ci/run" "$root/.ci/check_wheel.py" "$work/suite/.ci/"
cat > "$work/suite/tests/test_installed_wheel.py" <<EOF
"""Guard: this run tests the installed wheel, not a source tree."""

from pathlib import Path

import rcs_mls
from rcs_mls import _native

SITE = Path("$site").resolve()


def test_imported_from_the_installed_wheel() -> None:
    for module in (rcs_mls, _native):
        assert Path(module.__file__ or "").resolve().is_relative_to(SITE)
    assert not _native.DEBUG_BUILD
EOF
# The whole suite but the benchmarks' own tests. What needs cargo (the mls-rs and RCC.16
# interop peers, built from the checkout's interop/) skips, and so do the PostgreSQL tests
# when no server is set up (.ci/run sets one up): CI is unset for pytest so that these skip
# instead of failing, and any skip for another reason fails the smoke test below.
echo "wheel_smoke: pytest (installed wheel) in $work/suite"
run_clean env -u CI python -m pytest -p no:cacheprovider -q -rs tests \
    --ignore=tests/test_benches.py --ignore=tests/test_bench_persistence.py \
    2>&1 | tee "$work/pytest.txt"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
    echo "wheel_smoke: the installed wheel's tests failed (exit code $rc)" >&2
    exit "$rc"
fi
grep -Eq "[0-9]+ passed" "$work/pytest.txt"
unexpected="$(grep -E '^SKIPPED ' "$work/pytest.txt" \
    | grep -Ev 'mls-rs interop peer unavailable|no PostgreSQL server' || true)"
if [ -n "$unexpected" ]; then
    echo "wheel_smoke: tests skipped against the installed wheel for another reason:" >&2
    echo "$unexpected" >&2
    exit 1
fi
cd "$root"

# --- the sdist: builds on its own, in another venv -----------------------------------------
if [ "$with_sdist" -eq 1 ]; then
    if [ "${#sdists[@]}" -ne 1 ]; then
        echo "wheel_smoke: expected one sdist in dist/, found ${#sdists[@]}" >&2
        exit 1
    fi
    sdist="$root/${sdists[0]}"
    "$python_bin" -m venv "$work/venv-sdist"
    echo "wheel_smoke: building and installing $(basename "$sdist")" \
        "(CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-unset})"
    start=$SECONDS
    "$work/venv-sdist/bin/pip" install --quiet --no-binary rcs-mls "$sdist"
    echo "wheel_smoke: sdist built and installed in $((SECONDS - start)) s"
    cd "$work"
    "$work/venv-sdist/bin/python" -c 'import rcs_mls; print(rcs_mls.__version__)'
    "$work/venv-sdist/bin/python" - "$root/Cargo.toml" <<'EOF'
import sys
import tomllib
from pathlib import Path

import rcs_mls
from rcs_mls import Ciphersuite, Client, Credential, SignatureKeyPair

with open(sys.argv[1], "rb") as f:
    cargo_version = tomllib.load(f)["package"]["version"]
assert rcs_mls.__version__ == cargo_version, (rcs_mls.__version__, cargo_version)
assert "site-packages" in Path(rcs_mls.__file__ or "").parts

suite = Ciphersuite.MLS_128_DHKEMP256_AES128GCM_SHA256_P256
alice = Client(Credential.basic(b"alice"), SignatureKeyPair.generate(suite), suite)
bob = Client(Credential.basic(b"bob"), SignatureKeyPair.generate(suite), suite)
group = alice.create_group()
result = group.add_members([bob.generate_key_package()])
group.merge_pending_commit()
bob_group = bob.join_group(result.welcome)
assert bob_group.process_message(group.encrypt(b"hello")).plaintext == b"hello"
print(f"wheel_smoke: sdist build OK: {rcs_mls.versions()}")
EOF
    cd "$root"
fi
echo "wheel_smoke: OK"
