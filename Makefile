# One entry point for development. `make dev` builds the extension in place (debug
# profile with optimised dependencies), `make test` runs the suite, `make lint` the
# linters CI runs, `make bench` the side-by-side benchmarks.
.PHONY: dev release test lint fmt bench bench-native vectors demo clean

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

clean:
	cargo clean
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache python/rcs_mls/*.so

bench-native:
	python -m benches --native
