# One entry point for development. `make dev` builds the extension in place (debug
# profile with optimised dependencies), `make test` runs the suite, `make lint` the
# linters CI runs, `make bench` the side-by-side benchmarks. `make wheels` builds what a user
# installs without a Rust toolchain (dist/: a manylinux2014 x86_64 abi3 wheel and an sdist)
# and checks the wheel's tags and glibc needs; `make wheels-check` then smoke-tests both.
.PHONY: dev release test lint fmt bench bench-native vectors demo clean wheels wheels-check

# The wheel is cross-linked by zig against glibc 2.17 (manylinux2014), whatever this
# machine's glibc; the C parts (AWS-LC, SQLite) compile with `zig cc` too.
WHEEL_TOOLS = "maturin>=1.9,<2" "ziglang==0.15.2"
WHEEL_TARGET = x86_64-unknown-linux-gnu

dev:
	MATURIN_PEP517_ARGS="--profile dev" pip install -e ".[test]" --no-build-isolation

release:
	pip install ".[test]"

test:
	python -m pytest
	cargo test --lib -q

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	ruff check python tests benches
	ruff format --check python tests benches
	mypy
	python -m mypy.stubtest rcs_mls._native --allowlist .ci/stubtest-allowlist.txt

fmt:
	cargo fmt
	ruff format python tests benches
	ruff check --fix python tests benches

bench:
	python -m benches

vectors:
	python -m rcs_mls.interop vectors

demo:
	python -m rcs_mls demo

wheels:
	python -m pip install --quiet $(WHEEL_TOOLS)
	rm -rf dist
	maturin build --release --strip --zig --compatibility manylinux2014 --target $(WHEEL_TARGET) --out dist
	maturin sdist --out dist
	python .ci/check_wheel.py dist

wheels-check:
	bash .ci/wheel_smoke.sh --sdist

clean:
	cargo clean
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache python/rcs_mls/*.so

bench-native:
	python -m benches --native
