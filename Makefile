# The README's commands. Each one sets up the machine first (scripts/bootstrap.sh).
PY := .venv/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup test lint demo bench clean

setup:
	@bash scripts/bootstrap.sh

lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy

test: lint
	$(PY) -m pytest -q -n 2 -p xdist

demo: setup
	$(PY) -m devicelab demo

bench: setup
	$(PY) -m pytest -q -m bench -p no:xdist -s tests/bench

clean:
	rm -rf .venv .mypy_cache .ruff_cache reports/*/ 
